"""The columns each record type reads, and matching a file's headers to them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crm.core.errors import OperationError
from crm.core.text import fold
from crm.imports.phrases import listed


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False
    # Other headers people use for it; compared folded, without punctuation.
    synonyms: tuple[str, ...] = ()
    help: str = ""


@dataclass
class Spec:
    """The fields of one record type; `one_of` lists alternatives of which one is needed."""

    fields: list[Field]
    one_of: list[tuple[str, ...]] = field(default_factory=list)

    def get(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]

    @property
    def required(self) -> list[tuple[str, ...]]:
        """What every file needs a column for: a required field, or one of a `one_of` set."""
        return [(f.key,) for f in self.fields if f.required] + list(self.one_of)

    def is_required(self, key: str) -> bool:
        return any(key in group for group in self.required)

    def label_of(self, group: tuple[str, ...]) -> str:
        """'Name', 'First name or Full name', 'Email, First name or Full name'."""
        return listed([self.get(k).label for k in group], "or")  # type: ignore[union-attr]

    def missing(self, mapping: dict[str, str]) -> list[str]:
        """The required fields (or sets) that no column of `mapping` is read as, by label."""
        mapped = set(mapping.values())
        return [self.label_of(group) for group in self.required if not mapped & set(group)]


# "Organization" as headers name it in French, Spanish, German and Dutch (accents folded),
# for both the contacts' organization column and the organizations' name column.
ORGANIZATION_IN_OTHER_LANGUAGES = (
    "societe", "entreprise", "empresa", "organizacion", "firma", "unternehmen", "organisatie",
    "bedrijf",
)  # fmt: skip

# Headers in French, Spanish, German, Portuguese, Italian and Dutch (compared as `header_key`
# compares: accents, case, spaces and punctuation ignored), by the English name of the field
# they mean: a field that answers to "job title" also answers to "Fonction" and "Cargo". They
# come after every field's own names, so they never take a header another field names.
IN_OTHER_LANGUAGES: dict[str, tuple[str, ...]] = {
    "job title": (
        "fonction", "poste", "intitulé du poste", "titre du poste", "fonction occupée",  # fr
        "cargo", "puesto", "puesto de trabajo", "función",  # es (cargo: pt too)
        "funktion", "berufsbezeichnung", "stellenbezeichnung", "jobtitel", "stellung",  # de
        "função", "título do cargo",  # pt
        "ruolo", "qualifica", "mansione",  # it
        "functie", "functietitel",  # nl
    ),
    "phone": (
        "téléphone", "tél", "numéro de téléphone", "n° de téléphone", "n° de tél", "portable",
        "téléphone portable",  # fr
        "teléfono", "número de teléfono", "móvil", "celular", "tfno",  # es
        "telefon", "telefonnummer", "handy", "mobil", "mobilnummer", "rufnummer",  # de
        "telefone", "número de telefone", "telemóvel",  # pt
        "cellulare", "numero di telefono",  # it
        "telefoon", "telefoonnummer", "mobiel",  # nl
    ),
    "organization": (
        *ORGANIZATION_IN_OTHER_LANGUAGES,
        "organisme", "employeur", "nom de l'entreprise", "raison sociale", "établissement",  # fr
        "compañía", "institución", "entidad", "empleador", "nombre de la empresa",  # es
        "arbeitgeber", "firmenname", "institution",  # de
        "organização", "instituição", "entidade", "empregador", "nome da empresa",  # pt
        "azienda", "società", "ente", "organizzazione",  # it
        "werkgever", "organisatienaam",  # nl
    ),
    "email": (
        "courriel", "adresse courriel", "adresse e-mail", "adresse électronique", "mél",  # fr
        "correo", "correo electrónico", "dirección de correo", "email-adresse",  # es, de
        "e-mail-adresse", "mailadresse", "endereço de e-mail", "endereço de email",  # de, pt
        "posta elettronica", "indirizzo email", "e-mailadres",  # it, nl
    ),
    "languages": (
        "langues", "langue", "langues parlées",  # fr
        "idiomas", "idioma", "lenguas",  # es (idiomas: pt too)
        "sprachen", "sprache", "sprachkenntnisse",  # de
        "línguas", "língua",  # pt
        "lingue", "lingua",  # it
        "talen", "taal",  # nl
    ),
    "sector": (
        "secteur", "secteur d'activité",  # fr
        "sector de actividad",  # es ("sector" is English too)
        "sektor", "branche", "wirtschaftszweig",  # de
        "setor", "setor de atividade",  # pt
        "settore",  # it ("sector" in Dutch too)
    ),
    "country": (
        "pays", "país", "land", "paese", "nazione", "landcode", "code pays",
        "código de país", "código do país",
    ),
    "website": (
        "site web", "site internet", "site", "page web",  # fr
        "sitio web", "página web", "web",  # es
        "webseite", "internetseite", "internetadresse", "homepage",  # de
        "sítio", "sítio web", "página",  # pt
        "sito web", "sito",  # it
        "webpagina",  # nl
    ),
}  # fmt: skip

# Columns people often have that the CRM keeps no field for: said on the mapping page rather
# than left as a silent "ignore".
NOT_KEPT: dict[str, str] = dict.fromkeys(
    ("city", "town", "ville", "ciudad", "stadt", "ort", "cidade", "città", "stad", "localite",
     "localidad", "wohnort"),
    "The CRM keeps no city or town; this column is left out.",
)  # fmt: skip


def header_key(text: str) -> str:
    """'E-mail Address ' -> 'emailaddress': headers compared without case, accents, spacing
    or punctuation."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


def auto_map(headers: list[str], spec: Spec) -> dict[str, str]:
    """{header: field key} for the headers that name a field (its key, label or a synonym,
    or that in another language)."""
    names: dict[str, str] = {}
    for f in spec.fields:
        for name in (f.key, f.label, *f.synonyms):
            names.setdefault(header_key(name), f.key)
    for f in spec.fields:
        for name in (f.key, f.label, *f.synonyms):
            for translated in IN_OTHER_LANGUAGES.get(fold(name), ()):
                names.setdefault(header_key(translated), f.key)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = names.get(header_key(header))
        if key and key not in used:
            mapping[header] = key
            used.add(key)
    return mapping


def not_kept(header: str) -> str | None:
    """Why a column is left out, when it holds something the CRM keeps no field for."""
    return NOT_KEPT.get(header_key(header))


def check_mapping(mapping: dict[str, str], headers: list[str], spec: Spec) -> dict[str, str]:
    """The mapping cleaned of unknown headers and fields; refused when a field is mapped twice
    or a required one is missing."""
    known = set(spec.keys)
    cleaned = {h: k for h, k in mapping.items() if h in headers and k in known}
    seen: dict[str, str] = {}
    for header, key in cleaned.items():
        if key in seen:
            label = spec.get(key).label  # type: ignore[union-attr]
            raise OperationError(
                f"Two columns (“{seen[key]}” and “{header}”) are mapped to {label}; "
                "map one of them to something else or ignore it."
            )
        seen[key] = header
    missing = spec.missing(cleaned)
    if missing:
        raise OperationError(missing_message(missing))
    return cleaned


def missing_message(missing: list[str]) -> str:
    """All the missing required columns, in one message."""
    if len(missing) == 1:
        return (
            f"The file has no column for: {missing[0]}. Add it to the file, or map one of the "
            "file's columns to it."
        )
    return (
        f"The file has no column for: {'; '.join(missing)}. Add them to the file, or map the "
        "file's columns to them."
    )
