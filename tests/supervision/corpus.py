"""A realistic multi-language desk conversation set, with the hits each message should get.

Each entry is (text, expected (lexicon, rule) pairs). An empty set means the shipped packs
must stay silent on it: these are the false-positive checks.
"""

from __future__ import annotations

Expected = frozenset[tuple[str, str]]


def _e(*pairs: str) -> Expected:
    return frozenset(tuple(p.split("/", 1)) for p in pairs)  # type: ignore[misc]


HITS: list[tuple[str, Expected]] = [
    # off-channel, English, with evasive spellings
    ("Can we move this to WhatsApp? Easier for me on the road", _e("off_channel/whatsapp")),
    ("ping me on whats app later, not here", _e("off_channel/whatsapp")),
    ("Send me the term sheet on Wh@tsapp pls", _e("off_channel/whatsapp")),
    ("my number is on wa.me/4915112345678", _e("off_channel/whatsapp")),
    ("Let's switch to Signal for the pricing chat", _e("off_channel/signal")),
    ("signal me when you're free", _e("off_channel/signal")),
    ("I'm on Telegram, t.me/deskguy", _e("off_channel/telegram")),
    ("Text me at my cell, 917 555 0100", _e("off_channel/personal_phone")),
    ("send the model to my personal email instead", _e("off_channel/personal_email")),
    ("use john.trader77@gmail.com, the firm mail is slow", _e("off_channel/personal_email")),
    (
        "Let's take this offline before we put numbers in writing",
        _e("off_channel/take_it_elsewhere"),
    ),
    ("add me on WeChat, my id is the same", _e("off_channel/other_messenger")),
    # off-channel, other languages
    (
        "Schreib mir lieber auf WhatsApp, nicht über Slack",
        _e("off_channel/whatsapp", "off_channel/take_it_elsewhere"),
    ),
    ("Ruf mich privat an, mein Privathandy ist 0171 123", _e("off_channel/personal_phone")),
    ("On en parle sur Télégramme ce soir ?", _e("off_channel/telegram")),
    ("Envoie-le sur mon portable perso", _e("off_channel/personal_phone")),
    (
        "Mejor hablamos por WhatsApp, te paso mi celular",
        _e("off_channel/whatsapp", "off_channel/personal_phone"),
    ),
    ("Borra este mensaje y escríbeme por fuera", _e("off_channel/take_it_elsewhere")),
    (
        "Me chama no zap? Ou manda no meu celular",
        _e("off_channel/whatsapp", "off_channel/personal_phone"),
    ),
    ("Давай в телеграм, тут всё пишется", _e("off_channel/telegram")),
    # promissory
    ("This fund has a guaranteed return of 9% a year", _e("promissory/guaranteed_return")),
    (
        "I guarantee you 15% profit on this",
        _e("promissory/guaranteed_return", "promissory/sure_outcome"),
    ),
    ("It's risk-free, honestly you can't lose", _e("promissory/no_risk")),
    (
        "Garantierte Rendite von 7 %, völlig risikolos",
        _e("promissory/guaranteed_return", "promissory/no_risk"),
    ),
    (
        "Un rendement garanti, sans risque pour vous",
        _e("promissory/guaranteed_return", "promissory/no_risk"),
    ),
    (
        "Rentabilidad garantizada, te lo garantizo",
        _e("promissory/guaranteed_return", "promissory/sure_outcome"),
    ),
    ("Retorno garantido e sem risco", _e("promissory/guaranteed_return", "promissory/no_risk")),
    # complaints
    ("I want to file a complaint about the trade you made", _e("complaints/complaint")),
    (
        "I never authorized that trade. I want my money back",
        _e("complaints/unauthorized", "complaints/loss_and_refund"),
    ),
    ("If this isn't fixed I will sue and call my lawyer", _e("complaints/legal_threat")),
    (
        "Ich möchte eine Beschwerde einreichen, das war nicht autorisiert",
        _e("complaints/complaint", "complaints/unauthorized"),
    ),
    (
        "Je vais porter plainte, c'était sans mon accord",
        _e("complaints/complaint", "complaints/unauthorized"),
    ),
    (
        "Quiero presentar una queja, lo hicieron sin mi autorización",
        _e("complaints/complaint", "complaints/unauthorized"),
    ),
    # confidentiality
    (
        "Heads up, this is inside info: the merger closes tomorrow",
        _e("confidentiality/inside_information", "confidentiality/before_announcement"),
    ),
    (
        "Buy before it's announced, keep this between us",
        _e("confidentiality/before_announcement", "confidentiality/secrecy"),
    ),
    (
        "Das ist noch nicht öffentlich, streng vertraulich",
        _e("confidentiality/before_announcement", "confidentiality/secrecy"),
    ),
    (
        "C'est une information privilégiée, entre nous",
        _e("confidentiality/inside_information", "confidentiality/secrecy"),
    ),
    (
        "Es información privilegiada, no se lo digas a nadie",
        _e("confidentiality/inside_information", "confidentiality/secrecy"),
    ),
    # conduct
    ("this fucking platform froze again", _e("conduct/profanity")),
    ("Shut up and book the trade", _e("conduct/harassment")),
    ("So eine Scheiße, der Kurs fällt", _e("conduct/profanity")),
    ("Putain, encore un retard", _e("conduct/profanity")),
]

CLEAN: list[str] = [
    "Quarterly numbers look good, revenue up 4% q/q",
    "The buy signal on EURUSD is strong this morning",
    "Signal processing team joins the 10am call",
    "Past performance is no guarantee of future returns",
    "We cannot guarantee a return on this product, see the KID",
    "Sue from operations will send the settlement report",
    "Please refund the booking fee to the client account as agreed in the ticket",
    "The Scunthorpe office confirmed the allocation",
    "Can you send the draft over Slack before noon?",
    "I'll call you on the desk line at 3",
    "The outlook for Q3 is cautious",
    "Wir haben keine Garantie auf die Rendite, bitte im Prospekt nachlesen",
    "Le rendement n'est pas garanti, voir le prospectus",
    "La reunión es a las diez, traigo el informe",
    "Die Sitzung beginnt um zehn, ich bringe den Bericht",
    "A reunião começa às dez",
    "Встреча в десять, я принесу отчёт",
    "Ask compliance whether the deck is approved",
    "Email the client from your firm mailbox please",
    "The apple harvest report is attached",
    "What's the app version on the trading desktop?",
    "The line is busy, try again",
    "No complaints from the client so far",
]
