"""Where each rule comes from: the FAQ answers in shared/seeds and verified articles of law."""

from __future__ import annotations

from cnam_calendar.rules.model import Centre, Source

IPST_FAQ = "FAQ Ipst-Cnam"
IPST_FAQ_URL = "https://ipst.cnam.fr/contact/foire-aux-questions-ipst-cnam--1605162.kjsp?RH=1623911274792"
OCCITANIE_FAQ = "FAQ Cnam Occitanie"

SEMESTERS = Source(
    OCCITANIE_FAQ,
    "Jusqu'à quand puis-je m'inscrire ?",
    "1er semestre : de mi-octobre à mi-janvier ; 2e semestre : de mi-février à fin mai.",
)
EXAM_SESSIONS = Source(
    IPST_FAQ,
    "Combien de sessions d'examen y a-t-il par an ?",
    "Chaque UE comporte deux sessions d'examen par année universitaire.",
    IPST_FAQ_URL,
)
REGISTRATION = Source(
    IPST_FAQ,
    "Jusqu'à quand puis-je m'inscrire ?",
    "L'inscription est possible tout au long de l'année, jusqu'au démarrage des cours envisagés.",
    IPST_FAQ_URL,
)
ADD_DROP = Source(
    IPST_FAQ,
    "Puis-je changer d'UE ou de modalité après mon inscription ?",
    "Vous pouvez ajouter ou supprimer des UE avant le début du second semestre, "
    "via un bulletin rectificatif, jusqu'à fin février.",
    IPST_FAQ_URL,
)
WITHDRAWAL = Source(
    IPST_FAQ,
    "Puis-je changer d'UE ou de modalité après mon inscription ?",
    "Vous disposez d'un délai de 10 jours après la réception de votre dossier pour demander "
    "la suppression d'une UE pour le semestre en cours ou l'annulation de l'inscription.",
    IPST_FAQ_URL,
)
CPF = Source(
    IPST_FAQ,
    "Quels sont les délais pour valider ma demande CPF ?",
    "Une fois notre validation effectuée, vous disposez d'un délai de 3 jours ouvrés pour confirmer "
    "définitivement votre inscription sur votre espace CPF. Votre dossier doit être intégralement "
    "finalisé et validé avant le début du semestre.",
    IPST_FAQ_URL,
)
APPRENTICESHIP = Source(
    IPST_FAQ,
    "Dois-je trouver une entreprise avant de m'inscrire ou de débuter la formation ?",
    "Après admission, vous disposez d'un délai pouvant aller jusqu'à trois mois après la rentrée "
    "en formation pour signer votre contrat d'apprentissage.",
    IPST_FAQ_URL,
)
HOLIDAYS = Source(
    "Code du travail",
    "art. L3133-1",
    "Les fêtes légales sont des jours fériés.",
    "https://www.legifrance.gouv.fr/codes/id/LEGISCTA000033008129/",
)
HOURS_IPST = Source(
    IPST_FAQ,
    "Qu'est-ce qu'un crédit ECTS ?",
    "1 crédit ECTS correspond à environ 8 heures de cours (± 10 %).",
    IPST_FAQ_URL,
)
HOURS_OCCITANIE = Source(
    OCCITANIE_FAQ,
    "Qu'est-ce qu'une UE ?",
    "En moyenne, 4 crédits = 40 heures, 8 crédits = 65 heures et 12 crédits = 100 heures.",
)

CENTRE_FAQS = (IPST_FAQ, OCCITANIE_FAQ)  # the FAQs of one centre each, as opposed to laws


def as_seen_by(source: Source | None, centre: Centre) -> Source | None:
    """Return ``source`` as the centre's learners read it.

    Where the rule comes from another centre's FAQ (their own FAQ is silent, the network value
    applies), the citation says so and carries no link: another centre's page is not theirs.
    """
    if source is None or source.document not in CENTRE_FAQS or source.document == centre.faq_name:
        return source
    own = f"la {centre.faq_name}" if centre.faq_name else "la FAQ du centre"
    return Source(f"Valeur du réseau Cnam, telle que l'énonce la {source.document} ({own} ne précise pas ce point)",
                  source.question, source.quote)
