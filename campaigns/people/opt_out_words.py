"""The words with which people ask not to be messaged again, in the languages of Telegram's largest
audiences (data only; :mod:`.optout` reads replies with them).

:data:`ANYWHERE`: words and phrases that opt a person out wherever they stand in a private reply,
as whole words ("please stop", "Stopp bitte", "no more messages, thanks"). :data:`WHOLE_REPLY`:
words that opt out only as the whole reply, because inside a sentence they mostly mean something
else ("end", "cancel", "baja"; the carriers' SMS keywords END, QUIT, CANCEL). Both are compared as
:func:`.optout.words` reads text: case, accents, width and punctuation do not count, so ``arret``
is ``Arrêt`` and ``dont`` is ``don't``.

A word missing here means messaging someone who asked not to be; a word too many only drops a
person who said it in passing (staff see the reply marked as an opt-out and can lift the
suppression). So a word goes in when people use it to ask to stop, even if it has other uses.
"""

from __future__ import annotations

ANYWHERE: dict[str, tuple[str, ...]] = {
    "en": (
        "stop", "stopall", "stop all", "unsubscribe", "unsub", "opt out", "optout",
        "no more messages", "no more message", "no more texts", "no more spam",
        "remove me", "take me off", "don't message me", "do not message me", "don't text me",
        "do not text me", "don't contact me", "do not contact me", "don't write to me",
        "do not write to me", "stop messaging", "stop texting", "stop sending",
    ),
    "ru": (
        "стоп", "отписаться", "отписка", "отпишите", "отпишись", "отписать", "хватит писать",
        "не пишите", "не писать", "не пиши", "больше не пишите", "не присылайте", "удалите меня",
    ),
    "uk": (
        "стоп", "відписатися", "відписка", "відпишіть", "не пишіть", "не пиши", "більше не пишіть",
        "не надсилайте", "видаліть мене",
    ),
    "de": (
        "stopp", "abmelden", "abbestellen", "abmeldung", "austragen", "keine nachrichten mehr",
        "nicht mehr schreiben", "schreiben sie mir nicht", "schreib mir nicht",
    ),
    "fr": (
        "arrêt", "arrêter", "arrête", "arrêtez", "désabonner", "désabonnement", "désinscrire",
        "désinscription", "plus de messages", "ne m'écrivez plus",
    ),
    "es": (
        "dar de baja", "darme de baja", "darse de baja", "dame de baja", "denme de baja",
        "desuscribir", "desuscribirme", "cancelar suscripción", "no más mensajes", "parar",
        "no me escriban", "no me escribas",
    ),
    "pt": (
        "parar", "pare", "descadastrar", "descadastre", "descadastro", "cancelar inscrição",
        "não quero mais mensagens", "chega de mensagens", "não me mande", "não me envie",
    ),
    "it": (
        "basta", "disiscrivi", "disiscrivimi", "cancellami", "cancella iscrizione",
        "annulla iscrizione", "non scrivetemi", "non scrivermi",
    ),
    "tr": (
        "durdur", "abonelikten çık", "abonelikten çıkmak", "abonelikten çıkar", "abonelikten çıkarın",
        "abonelik iptal", "mesaj göndermeyin", "mesaj atmayın",
        "beni listeden çıkar", "istemiyorum",
    ),
    "id": ("berhenti", "berhenti berlangganan", "jangan kirim", "hapus saya"),
    "ar": ("توقف", "الغاء الاشتراك", "إلغاء الاشتراك", "لا ترسل"),
    "fa": ("لغو اشتراک", "توقف", "پیام نفرستید"),
    "hi": ("बंद करो", "बंद करें", "अनसब्सक्राइब"),
}  # fmt: skip

WHOLE_REPLY: dict[str, tuple[str, ...]] = {
    "en": ("end", "quit", "cancel", "revoke", "halt", "no more"),
    "ru": ("хватит", "отмена"),
    "uk": ("досить", "скасувати"),
    "de": ("ende",),
    "fr": ("fin", "annuler"),
    "es": ("baja", "cancelar", "alto"),
    "pt": ("sair", "cancelar"),
    "it": ("fine", "annulla"),
    "tr": ("dur", "iptal"),
    "id": ("henti",),
    "hi": ("बंद",),
}  # fmt: skip
