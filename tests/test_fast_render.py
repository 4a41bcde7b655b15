"""campaigns.content.fast_render (the template's plan): text and plain variables rendered without Django's template
machinery must give exactly what the sandboxed template engine gives, for every template it takes."""

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from campaigns.content import template
from campaigns.content.outgoing import message_builder
from campaigns.content.sandbox import RENDER_MAX, TEMPLATE_MAX
from campaigns.models import Campaign

MODES = ("plain", "html", "markdown")

# Text around the tags: everything a message holds, markup and Markdown syntax included.
TEXT = st.lists(
    st.sampled_from(
        list("Hi, news! <b></b>&amp;*_~`[]()#\n\t é😀\u200b'\"") + ["<a href='x'>", "{ x }", "100%"]
    ),
    max_size=12,
).map("".join)
NAMES = ("first_name", "city", "First name", "first name", "FIRST_NAME", "first_name_", "x", "City ")
VALUE = st.one_of(
    st.none(),
    st.text(alphabet=list("Ann<>&'\"*_~`[]()é😀 \n"), max_size=10),
    st.sampled_from(["", "**bold**", "[a](http://x)", "<script>", "&amp;", "x" * (RENDER_MAX + 5)]),
)
LITERAL = st.sampled_from(
    ['"there"', "'<b>you</b>'", '""', '"**friend**"', '"a & b"', '"' + "y" * (RENDER_MAX + 3) + '"']
)
PLAN_TAG = st.one_of(
    st.sampled_from(["{{ first_name }}", "{{ city }}", "{{ first_name_ }}", "{{ x }}", "{{first_name}}"]),
    st.builds(
        lambda n, d: "{{ " + n + "|default:" + d + " }}",
        st.sampled_from(["first_name", "city", "x"]),
        LITERAL,
    ),
)
# Tags the plan does not take: these templates must fall back to the engine, not mis-render.
OTHER_TAGS = [
    "{{ first_name|upper }}",
    "{{ first_name.0 }}",
    "{{ 'literal' }}",
    "{% if city %}in {{ city }}{% endif %}",
    "{{ first_name|default:city }}",
    "{{ first_name|default:'a'|lower }}",
    "{{ first_name|default_if_none:'x' }}",
    "{% with a='<i>' %}{{ a }}{% endwith %}",
    "{{ _('Hi') }}",
    "{{ forloop }}",
    "{{ 5 }}",
    "{{ first_name|default:5 }}",
]
OTHER_TAG = st.sampled_from(OTHER_TAGS)


def templates(tags):
    return st.lists(st.one_of(TEXT, tags), min_size=1, max_size=8).map("".join)


FIELDS = st.dictionaries(st.sampled_from(NAMES), VALUE, max_size=5)


def assert_same_as_the_engine(text: str, fields: dict, mode: str) -> None:
    try:
        expected = template._render_template(text, fields, mode)
    except template.MessageError:
        with pytest.raises(template.MessageError):
            template._render(text, fields, mode)
        return
    got = template._render(text, fields, mode)
    assert got == expected
    assert template.renderer(text, mode)(fields) == expected[0]
    assert type(got[0]) is type(expected[0])  # SafeString when whole, as Django returns it


@settings(max_examples=400, deadline=None)
@given(templates(PLAN_TAG), FIELDS, st.sampled_from(MODES))
@example("Hi {{ first_name }}, news for you.", {"first_name": "<b>Ann</b>"}, "html")
@example('{{ first_name|default:"<b>there</b>" }}', {}, "html")
@example('{{ first_name|default:"**friend**" }}', {"first_name": "**x**"}, "markdown")
@example("{{ first_name }}", {"First name": "Bob & co"}, "html")
@example("{{ x }}", {"x": "x" * (RENDER_MAX + 1)}, "plain")
@example("a" * RENDER_MAX + "{{ x }}", {"x": "b"}, "plain")
@example("a" * RENDER_MAX, {}, "plain")
def test_a_planned_template_renders_exactly_as_the_template_engine(text, fields, mode):
    assume(len(text) <= TEMPLATE_MAX)
    assert template._plan(text) is not None
    assert_same_as_the_engine(text, fields, mode)


@settings(max_examples=300, deadline=None)
@given(templates(st.one_of(PLAN_TAG, OTHER_TAG)), FIELDS, st.sampled_from(MODES))
def test_any_template_renders_as_the_template_engine_whichever_path_it_takes(text, fields, mode):
    assert_same_as_the_engine(text, fields, mode)


@pytest.mark.parametrize("tag", OTHER_TAGS)
def test_tags_beyond_plain_variables_take_the_template_engine(tag):
    assert template._plan(f"Hi {tag}!") is None


def test_text_and_plain_variables_are_planned_in_order():
    assert template._plan('Hi {{ a }} {{ b|default:"c" }}') == ("Hi ", ("a", None), " ", ("b", "c"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("message", "alike"),
    [
        ("Spring sale: 20% off today.", True),
        ("{% if 1 %}<b>Sale</b>{% endif %}", True),
        ("Hi {{ first_name }}", False),
        ('Today is {% now "Y-m-d H:i:s.u" %}', False),
        ('{{ "abc"|make_list|random }}', False),
        ("{% filter random %}abc{% endfilter %}", False),
    ],
)
def test_a_message_with_no_personal_field_is_rendered_once_per_campaign(message, alike, monkeypatch):
    assert template.renders_alike(message) is alike
    campaign = Campaign.objects.create(name="c", message=message, parse_mode="html")
    calls = []
    real = template.renderer

    def counted(*args):
        render = real(*args)
        return lambda fields: calls.append(fields) or render(fields)

    monkeypatch.setattr(template, "renderer", counted)
    build = message_builder(campaign)

    first = build({"first_name": "Ann"})
    second = build({"first_name": "Bob"})

    assert len(calls) == (1 if alike else 2)
    if alike:
        assert second == first == build({})
        assert first.text == template.render(message, {}, "html")
