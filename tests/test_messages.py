"""campaigns.content.template and sessions_app.transport.formatting: the message cases of shared/cases."""

from pathlib import Path

import pytest

from campaigns.content.template import (
    RENDER_MAX,
    TEMPLATE_MAX,
    MessageError,
    RenderOverBudget,
    check_message,
    defaulted_unknown_variables,
    preview,
    render,
    template_variables,
    variable_defaults,
)
from sessions_app.transport.formatting import parse

CASES = Path(__file__).resolve().parent / "data" / "cases"
MESSAGES = CASES / "messages"
REPO = Path(__file__).resolve().parents[1]


def case(name: str) -> str:
    return (MESSAGES / name).read_text(encoding="utf-8")


def test_it_personalises_the_message_per_recipient():
    text = render(case("personalised.txt"), {"first_name": "Alice", "city": "Berlin"}, "plain")

    assert text == "Hi Alice, our Berlin store opens on Friday.\n"


def test_a_recipient_without_first_name_is_greeted_as_there():
    assert (
        render(case("personalised.txt"), {"city": "Berlin"}, "plain")
        == "Hi there, our Berlin store opens on Friday.\n"
    )


def test_a_missing_city_renders_empty_instead_of_failing():
    assert (
        render(case("personalised.txt"), {"first_name": "Alice"}, "plain")
        == "Hi Alice, our  store opens on Friday.\n"
    )


def test_a_column_header_with_spaces_is_reachable_as_a_variable():
    assert render("Hi {{ first_name }}", {"First name": "Sam"}, "plain") == "Hi Sam"


def test_a_missing_column_as_a_filter_argument_renders_empty_instead_of_failing():
    assert render("Hi {{ nickname|default:first_name }}!", {}, "plain") == "Hi !"
    assert check_message("Hi {{ nickname|default:first_name }}!", "plain", has_media=False) == []


@pytest.mark.parametrize(
    ("template", "tag"),
    [("Hi {{ first_name", "{{ … }}"), ("Hi {{ first_name }", "{{ … }}"), ("{% if vip Hi", "{% … %}")],
)
def test_it_reports_an_unclosed_tag_that_would_be_sent_literally(template, tag):
    problems = check_message(template, "plain", has_media=False)

    assert len(problems) == 1 and problems[0].startswith(f"unclosed {tag} tag")


def test_braces_inside_verbatim_are_meant_literally_and_not_reported():
    unclosed = "Hi {{ first_name }}, {{ literally"
    verbatim = "Hi {{ first_name }}, {% verbatim %}{{ literally{% endverbatim %}"

    assert check_message(unclosed, "plain", has_media=False) != []
    assert check_message(verbatim, "plain", has_media=False) == []


def test_it_reports_a_variable_that_is_no_column_of_the_lists():
    problems = check_message(
        "Hi {{ frist_name }} from {{ city }}", "plain", has_media=False, known_fields=["first_name", "city"]
    )

    assert problems == ["{{ frist_name }} is not a column of the chosen lists (columns: first_name, city)"]
    # Without the lists' columns (the engine's check at launch) a variable is not judged.
    assert check_message("Hi {{ frist_name }}", "plain", has_media=False) == []


def test_a_misspelt_variable_with_a_default_is_a_warning_naming_the_default_not_a_problem():
    """Issue 9: unknown variables block launch unless given a default; the default is then what
    everyone gets, which staff are told."""
    text = "Hi {{ frist_name|default:'there' }}"

    assert check_message(text, "plain", has_media=False, known_fields=["first_name"]) == []
    assert defaulted_unknown_variables(text, ["first_name"]) == [
        "{{ frist_name }} is not a column of the chosen lists (columns: first_name): every recipient "
        "gets its default “there”"
    ]


@pytest.mark.parametrize(
    ("text", "defaults"),
    [
        ("Hi {{ name }}", {"name": None}),
        ("Hi {{ name|default:'you' }}", {"name": "you"}),
        ("Hi {{ name|upper|default:'you' }}", {"name": "you"}),
        ("Hi {{ name|default:'you' }}, {{ name }}", {"name": None}),
        ("Hi {{ name|default:nick }}", {"name": "", "nick": None}),
        ("{% if vip %}VIP{% endif %} {{ vip|default:'x' }}", {"vip": None}),
        ("Hi {{ name|default_if_none:'you' }}", {"name": None}),
        ("{% with n=name|default:'you' %}{{ n }}{% endwith %}", {"name": "you"}),
    ],
)
def test_a_variable_has_a_default_only_when_every_use_has_one(text, defaults):
    assert dict(variable_defaults(text)) == defaults


def test_a_header_with_spaces_is_known_by_its_alias_and_listed_by_it():
    known = ["First name", "Signed up"]

    assert check_message("Hi {{ first_name }}", "plain", has_media=False, known_fields=known) == []
    assert check_message("Hi {{ First_name }}", "plain", has_media=False, known_fields=known) == [
        "{{ First_name }} is not a column of the chosen lists (columns: first_name, signed_up)"
    ]


def test_template_variables_leaves_out_names_the_template_binds_itself():
    template = (
        "{% with greeting=salutation %}{{ greeting }}{% endwith %}{% if vip and not city %}!{% endif %}"
        "{% filter upper %}{{ first_name }}{% endfilter %}"
    )

    assert template_variables(template) == ("salutation", "vip", "city", "first_name")


def test_loops_are_not_available_in_a_message():
    problems = check_message("{% for c in note %}{{ c }}{% endfor %}", "plain", has_media=False)

    assert len(problems) == 1 and "for" in problems[0]


def test_html_mode_escapes_a_name_so_it_cannot_break_the_markup():
    rendered = render("<b>Hi {{ name }}</b>", {"name": "<i>Bob & co"}, "html")

    assert preview(rendered, "html") == ("Hi <i>Bob & co", [{"type": "bold", "offset": 0, "length": 14}])


def test_markdown_and_plain_modes_keep_values_unescaped():
    assert render("Hi {{ name }}", {"name": "<Bob & co>"}, "markdown") == "Hi <Bob & co>"
    assert render("Hi {{ name }}", {"name": "<Bob & co>"}, "plain") == "Hi <Bob & co>"


@pytest.mark.parametrize(
    "template",
    [
        '{% include "secrets.txt" %}',
        "{% load static %}",
        "{% debug %}",
        "{{ name|safe }}",
        "{% autoescape off %}{{ name }}{% endautoescape %}",
        "{{ name.__class__ }}",
    ],
)
def test_the_sandbox_refuses_tags_and_filters_beyond_plain_personalisation(template):
    with pytest.raises(MessageError, match="^template error: "):
        render(template, {"name": "x"}, "html")
    assert check_message(template, "html", has_media=False)[0].startswith("template error: ")


def test_it_refuses_a_4097_character_text_before_launch():
    assert check_message(case("too_long_4097.txt"), "plain", has_media=False) == [
        "the text is 4097 characters after formatting; Telegram allows at most 4096"
    ]


def test_it_accepts_a_4096_character_text():
    assert check_message("a" * 4096, "plain", has_media=False) == []


def test_it_counts_length_after_entity_parsing():
    assert check_message("<b>" + "a" * 4096 + "</b>", "html", has_media=False) == []


def test_it_counts_an_emoji_as_telegram_does_in_utf16_units():
    assert check_message("🌹" * 2049, "plain", has_media=False) == [
        "the text is 4098 characters after formatting; Telegram allows at most 4096"
    ]


def test_it_refuses_a_caption_over_1024_characters_with_media():
    assert check_message("a" * 1025, "plain", has_media=True) == [
        "the caption is 1025 characters after formatting; Telegram allows at most 1024"
    ]


def test_an_empty_message_needs_media():
    assert check_message("  ", "plain", has_media=False) == ["the message is empty"]
    assert check_message("", "plain", has_media=True) == []


def test_it_reports_unclosed_html_before_launch():
    assert check_message(case("html_unclosed.html"), "html", has_media=False) == [
        "<i> is not closed before </b>"
    ]


def test_the_html_preview_shows_exactly_the_entities_that_will_be_sent():
    text, entities = preview(case("html_unclosed.html"), "html")

    # Telethon drops the unclosed <i>; the preview shows that rather than what was meant.
    assert text == "Sale starts today at our shop"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 17},
        {"type": "text_link", "offset": 21, "length": 8, "url": "https://example.com"},
    ]


def test_the_markdown_preview_shows_bold_text_link_and_code():
    text, entities = preview(case("markdown_links.md"), "markdown")

    assert text == "Sale starts today — use code TG10."
    assert entities == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "text_link", "offset": 12, "length": 5, "url": "https://example.com"},
        {"type": "code", "offset": 29, "length": 4},
    ]
    assert check_message(case("markdown_links.md"), "markdown", has_media=False) == []


def test_the_preview_matches_the_entities_the_transport_parses():
    _, entities = parse(case("markdown_links.md"), "markdown")

    assert [(e.offset, e.length) for e in entities] == [
        (d["offset"], d["length"]) for d in preview(case("markdown_links.md"), "markdown")[1]
    ]


def test_it_reports_unpaired_markdown():
    assert check_message("**Sale starts today", "markdown", has_media=False) == [
        "unpaired Markdown ** (it will be sent as text)"
    ]


def test_it_reports_html_tags_telegram_does_not_know():
    assert check_message("Hi<br>there <a>shop</a>", "html", has_media=False) == [
        "<br> is not a Telegram formatting tag; it will be removed",
        "<a> without href: the link will be sent as plain text",
    ]


def test_the_preview_can_render_a_template_for_a_sample_recipient():
    assert preview("<b>Hi {{ first_name }}</b>", "html", {"first_name": "Alice"}) == (
        "Hi Alice",
        [{"type": "bold", "offset": 0, "length": 8}],
    )


def visible(text: str) -> str:
    return text.replace("\u200b", "")


def test_a_markdown_value_cannot_inject_a_link_or_bold_text():
    value = "[claim your prize](https://evil.example) **now**"

    text, entities = preview("Hi {{ first_name }}, see you soon.", "markdown", {"first_name": value})

    assert entities == []
    assert visible(text) == f"Hi {value}, see you soon."


@pytest.mark.parametrize("value", ["__init__ fan", "~~gone~~", "`rm -rf`", "```pre```"])
def test_a_markdown_value_with_delimiters_is_sent_as_the_text_it_is(value):
    text, entities = preview("Hi {{ username }}!", "markdown", {"username": value})

    assert entities == []
    assert visible(text) == f"Hi {value.replace('`', 'ˋ')}!"


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("[Shop]{{ v }}", "(https://evil.example)"),
        ("{{ v }}*deal**", "a*"),
        ("[{{ v }}](https://shop.example)", "x](https://evil.example) [y"),
    ],
)
def test_a_markdown_value_cannot_complete_syntax_begun_in_the_template(template, value):
    _, entities = preview(template, "markdown", {"v": value})

    assert not any(e.get("url") == "https://evil.example" or e["type"] == "bold" for e in entities)


def test_the_templates_own_markdown_still_formats_around_a_neutralised_value():
    text, entities = preview("**Hi {{ name }}**, use `TG10`", "markdown", {"name": "__init__"})

    assert visible(text) == "Hi __init__, use TG10"
    assert [e["type"] for e in entities] == ["bold", "code"]
    assert entities[0] == {"type": "bold", "offset": 0, "length": len("Hi __init__") + text.count("\u200b")}


# Bounded rendering (the filter bomb) ---------------------------------------------------------
def peak_bytes_of(call) -> int:
    """Peak memory Python allocated while ``call()`` ran."""
    import tracemalloc

    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


FEW_MB = 4 * 1024 * 1024
BOMBS = {
    "ljust": ('{{ first_name|ljust:"100000000" }}', {"first_name": "Ann"}),
    "rjust": ('{{ first_name|rjust:"100000000" }}', {"first_name": "Ann"}),
    "center": ('{{ first_name|center:"100000000" }}', {"first_name": "Ann"}),
    "stringformat width": ('{{ first_name|stringformat:"100000000s" }}', {"first_name": "Ann"}),
    "stringformat left-justified": ('{{ first_name|stringformat:"-100000000s" }}', {"first_name": "Ann"}),
    "floatformat": ('{{ n|floatformat:"100000000" }}', {"n": "1.5"}),
    "a width from the recipient's data": (
        "{{ first_name|ljust:width }}",
        {"first_name": "Ann", "width": "100000000"},
    ),
    "a chain that multiplies": (
        '{{ x|make_list|stringformat:"s"|make_list|stringformat:"s"|make_list|stringformat:"s"|make_list|stringformat:"s"|make_list|stringformat:"s"|make_list|stringformat:"s"|make_list|stringformat:"s"|make_list|stringformat:"s" }}',
        {"x": "x" * 50},
    ),
    "escapes that multiply": (
        "{% filter force_escape|force_escape|force_escape|force_escape|force_escape|force_escape|force_escape|force_escape|force_escape|force_escape %}{{ x }}{% endfilter %}",
        {"x": "&" * 100},
    ),
    "many padded variables": ('{{ first_name|ljust:"9000" }}' * 2000, {"first_name": "Ann"}),
}


def test_the_filter_bomb_case_renders_within_bounds_and_is_refused_before_launch():
    bomb = case("filter_bomb.txt")

    rendered = []
    peak = peak_bytes_of(lambda: rendered.append(render(bomb, {"first_name": "Ann"}, "plain")))

    assert len(rendered[0]) <= RENDER_MAX
    assert peak < FEW_MB, f"the render allocated {peak / 1e6:.0f} MB"
    problems = check_message(bomb, "plain", has_media=False)
    assert any("grows past" in p for p in problems), problems


@pytest.mark.parametrize(("template", "fields"), BOMBS.values(), ids=BOMBS.keys())
@pytest.mark.parametrize("mode", ["plain", "html", "markdown"])
def test_no_filter_or_template_grows_a_render_past_its_bound(template, fields, mode):
    rendered = []

    def attempt():
        try:
            rendered.append(render(template, fields, mode))
        except RenderOverBudget:  # stopped by the work budget (issue 19.12): also within bounds
            rendered.append("")

    peak = peak_bytes_of(attempt)

    assert len(rendered[0]) <= RENDER_MAX
    assert peak < FEW_MB, f"the render allocated {peak / 1e6:.0f} MB"


def test_ordinary_padding_and_decimals_still_work():
    assert (
        render(
            '{{ a|ljust:"6" }}|{{ a|center:"5" }}|{{ n|floatformat:"3" }}', {"a": "ab", "n": "2.5"}, "plain"
        )
        == "ab    |" + "ab".center(5) + "|2.500"
    )
    assert render('{{ n|stringformat:"5s" }}', {"n": 42}, "plain") == "   42"


def test_a_template_longer_than_the_bound_is_refused():
    problems = check_message("x" * (TEMPLATE_MAX + 1), "plain", has_media=False)

    assert problems and "at most" in problems[0]
