"""Words that recipient files use, in the languages of Telegram's largest audiences (data only).

:data:`HEADERS`: language (ISO 639-1) → role → the header names meaning it, as people write them
(matched after :func:`squash`: case, spaces and punctuation do not count).
The roles are those of :mod:`.columns`; ``mobile`` is a phone column preferred to other phone
columns of the row. :data:`MOBILE_WORDS` mark a phone as a mobile in a header or a label cell
(Google's ``Phone 1 - Label`` = ``Mobile``); :data:`SECONDARY_PHONE_WORDS` mark a phone column that
comes after the others (an address's, an office's). :data:`YES` / :data:`NO` are the answers a
consent column holds. Country names come from Babel (:mod:`.countries`), not from here.
"""

from __future__ import annotations


def squash(header: str) -> str:
    """``header`` without case, spaces or punctuation, in any script: ``E-Mail`` → ``email``."""
    return "".join(c for c in str(header).casefold() if c.isalnum())


HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "phone": ("phone", "phone number", "telephone", "tel", "phone no", "contact number"),
        "mobile": ("mobile", "mobile phone", "mobile number", "cell", "cell phone", "cellphone"),
        "username": ("username", "telegram username", "handle"),
        "user_id": ("user id", "telegram id", "telegram user id"),
        "first_name": ("first name", "firstname", "given name", "forename"),
        "last_name": ("last name", "lastname", "surname", "family name"),
        "full_name": ("full name", "display name"),
        "city": ("city", "town"),
        "company": ("company", "company name", "organization", "organisation", "organization name"),
        "email": ("email", "e-mail", "email address", "e-mail address"),
        "country": ("country", "country code", "country/region", "nation"),
        "consent": (
            "consent",
            "opt in",
            "opt-in",
            "opted in",
            "newsletter",
            "subscribed",
            "marketing consent",
        ),
        "time_zone": ("time zone", "timezone", "tz"),
        "tags": ("tags", "tag", "labels", "groups", "segments"),
    },
    "ru": {
        "phone": ("телефон", "номер телефона", "тел"),
        "mobile": ("мобильный", "мобильный телефон", "сотовый"),
        "username": ("имя пользователя", "юзернейм", "ник"),
        "first_name": ("имя",),
        "last_name": ("фамилия",),
        "full_name": ("фио", "полное имя"),
        "city": ("город",),
        "company": ("компания", "организация"),
        "email": ("почта", "электронная почта"),
        "country": ("страна",),
        "consent": ("согласие", "рассылка", "подписка"),
        "time_zone": ("часовой пояс",),
        "tags": ("теги", "тэги", "метки", "ярлыки"),
    },
    "uk": {
        "phone": ("телефон", "номер телефону"),
        "mobile": ("мобільний", "мобільний телефон"),
        "username": ("імя користувача", "ім'я користувача"),
        "first_name": ("ім'я", "імя"),
        "last_name": ("прізвище",),
        "full_name": ("піб", "повне ім'я"),
        "city": ("місто",),
        "company": ("компанія",),
        "email": ("пошта", "електронна пошта"),
        "country": ("країна",),
        "consent": ("згода", "розсилка", "підписка"),
        "time_zone": ("часовий пояс",),
        "tags": ("теги", "мітки"),
    },
    "de": {
        "phone": ("telefon", "telefonnummer", "rufnummer"),
        "mobile": ("handy", "mobil", "mobiltelefon", "handynummer", "mobilnummer"),
        "username": ("benutzername",),
        "first_name": ("vorname",),
        "last_name": ("nachname", "familienname"),
        "full_name": ("vollständiger name",),
        "city": ("stadt", "ort", "wohnort"),
        "company": ("firma", "unternehmen"),
        "email": ("e-mail-adresse",),
        "country": ("land", "staat"),
        "consent": ("einwilligung", "zustimmung", "newsletter"),
        "time_zone": ("zeitzone",),
        "tags": ("schlagwörter", "schlagworte", "stichwörter", "etiketten"),
    },
    "fr": {
        "phone": ("téléphone", "numéro de téléphone", "tél"),
        "mobile": ("portable", "mobile", "téléphone portable", "téléphone mobile"),
        "username": ("nom d'utilisateur",),
        "first_name": ("prénom",),
        "last_name": ("nom de famille", "nom"),
        "full_name": ("nom complet",),
        "city": ("ville",),
        "company": ("entreprise", "société"),
        "email": ("courriel", "adresse e-mail"),
        "country": ("pays",),
        "consent": ("consentement", "accord", "abonné"),
        "time_zone": ("fuseau horaire",),
        "tags": ("étiquettes", "libellés", "mots-clés"),
    },
    "es": {
        "phone": ("teléfono", "número de teléfono", "tel"),
        "mobile": ("móvil", "movil", "celular", "teléfono móvil"),
        "username": ("nombre de usuario",),
        "first_name": ("nombre",),
        "last_name": ("apellido", "apellidos"),
        "full_name": ("nombre completo",),
        "city": ("ciudad",),
        "company": ("empresa", "compañía"),
        "email": ("correo", "correo electrónico"),
        "country": ("país",),
        "consent": ("consentimiento", "suscrito"),
        "time_zone": ("zona horaria",),
        "tags": ("etiquetas",),
    },
    "pt": {
        "phone": ("telefone", "número de telefone"),
        "mobile": ("celular", "telemóvel", "telefone celular"),
        "username": ("nome de usuário", "nome de utilizador"),
        "first_name": ("nome", "primeiro nome"),
        "last_name": ("sobrenome", "apelido", "último nome"),
        "full_name": ("nome completo",),
        "city": ("cidade",),
        "company": ("empresa",),
        "email": ("e-mail", "correio eletrônico"),
        "country": ("país",),
        "consent": ("consentimento", "aceita marketing"),
        "time_zone": ("fuso horário",),
        "tags": ("etiquetas", "marcadores"),
    },
    "it": {
        "phone": ("telefono", "numero di telefono"),
        "mobile": ("cellulare", "telefono cellulare"),
        "username": ("nome utente",),
        "first_name": ("nome",),
        "last_name": ("cognome",),
        "full_name": ("nome completo",),
        "city": ("città",),
        "company": ("azienda", "società"),
        "email": ("posta elettronica",),
        "country": ("paese", "nazione"),
        "consent": ("consenso", "iscritto"),
        "time_zone": ("fuso orario",),
        "tags": ("etichette",),
    },
    "tr": {
        "phone": ("telefon", "telefon numarası"),
        "mobile": ("cep telefonu", "cep tel", "gsm"),  # not "cep" alone: a Brazilian postcode
        "username": ("kullanıcı adı",),
        "first_name": ("ad", "adı", "isim"),
        "last_name": ("soyad", "soyadı"),
        "full_name": ("ad soyad", "tam ad"),
        "city": ("şehir", "il"),
        "company": ("şirket", "firma"),
        "email": ("e-posta",),
        "country": ("ülke",),
        "consent": ("onay", "izin"),
        "time_zone": ("saat dilimi",),
        "tags": ("etiketler", "etiket"),
    },
    "fa": {
        "phone": ("تلفن", "شماره تلفن", "شماره"),
        "mobile": ("موبایل", "تلفن همراه", "شماره همراه"),
        "username": ("نام کاربری",),
        "first_name": ("نام",),
        "last_name": ("نام خانوادگی",),
        "full_name": ("نام کامل",),
        "city": ("شهر",),
        "company": ("شرکت",),
        "email": ("ایمیل",),
        "country": ("کشور",),
        "consent": ("رضایت",),
        "time_zone": ("منطقه زمانی",),
        "tags": ("برچسب‌ها", "برچسب ها", "برچسب"),
    },
    "ar": {
        "phone": ("هاتف", "رقم الهاتف", "الهاتف"),
        "mobile": ("جوال", "الجوال", "محمول", "رقم الجوال"),
        "username": ("اسم المستخدم",),
        "first_name": ("الاسم الأول",),
        "last_name": ("اسم العائلة", "الكنية"),
        "full_name": ("الاسم الكامل", "الاسم"),
        "city": ("المدينة", "مدينة"),
        "company": ("الشركة", "شركة"),
        "email": ("البريد الإلكتروني",),
        "country": ("الدولة", "البلد", "دولة"),
        "consent": ("الموافقة", "موافقة"),
        "time_zone": ("المنطقة الزمنية",),
        "tags": ("الوسوم", "وسوم", "العلامات"),
    },
    "id": {
        "phone": ("telepon", "nomor telepon", "no telp"),
        "mobile": ("ponsel", "hp", "nomor hp", "seluler"),
        "username": ("nama pengguna",),
        "first_name": ("nama depan",),
        "last_name": ("nama belakang",),
        "full_name": ("nama lengkap", "nama"),
        "city": ("kota",),
        "company": ("perusahaan",),
        "email": ("surel",),
        "country": ("negara",),
        "consent": ("persetujuan", "langganan"),
        "time_zone": ("zona waktu",),
        "tags": ("label",),
    },
    "hi": {
        "phone": ("फ़ोन", "फोन", "फ़ोन नंबर", "फोन नंबर", "दूरभाष"),
        "mobile": ("मोबाइल", "मोबाइल नंबर"),
        "username": ("उपयोगकर्ता नाम",),
        "first_name": ("पहला नाम",),
        "last_name": ("उपनाम", "अंतिम नाम"),
        "full_name": ("पूरा नाम", "नाम"),
        "city": ("शहर",),
        "company": ("कंपनी",),
        "email": ("ईमेल",),
        "country": ("देश",),
        "consent": ("सहमति",),
        "time_zone": ("समय क्षेत्र",),
        "tags": ("टैग", "लेबल"),
    },
}

# A phone labelled (or headed) with one of these is a mobile: it is the row's key before others.
MOBILE_WORDS = tuple(
    sorted(
        {
            "mobile",
            "cell",
            "iphone",
            *(word for table in HEADERS.values() for word in table.get("mobile", ())),
        }
    )
)
# A phone column headed with one of these comes after the row's other phones.
SECONDARY_PHONE_WORDS = ("address", "business", "work", "home", "office", "other", "company", "fax", "pager")

# Consent answers, compared case-insensitively after trimming.
# Parts of squashed header names that say the person withdrew (an opt-out column, whose "yes"
# means no): English, German, French, Spanish, Portuguese, Russian, Ukrainian.
OPT_OUT_PARTS = (
    "optout", "optedout", "unsubscri", "donotcontact", "donotcall", "donotmessage", "donotemail",
    "consentwithdrawn", "withdrawnconsent", "consentrevoked", "blacklist", "blocklist",
    "abgemeldet", "abmeldung", "widerruf", "desabonn", "désabonn", "desinscri", "désinscri",
    "dadodebaja", "descadastr", "отписа", "відписа",
)  # fmt: skip
YES = frozenset(
    {
        "yes", "y", "true", "1", "x", "✓", "✔", "opted in", "opt-in", "subscribed", "accepted", "granted",
        "ja", "oui", "sí", "si", "sim", "да", "так", "evet", "ya", "iya",
        "بله", "آره", "نعم", "हाँ", "हां", "ha", "sì",
    }
)  # fmt: skip
NO = frozenset(
    {
        "no", "n", "false", "0", "opted out", "opt-out", "unsubscribed", "not subscribed", "declined",
        "nein", "non", "não", "nao", "нет", "ні", "hayır", "hayir", "tidak", "tdk", "نه", "خیر",
        "لا", "नहीं", "nahin",
    }
)  # fmt: skip
