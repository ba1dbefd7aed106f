"""Company names compared the way people mean them: "Acme, Inc." is "ACME LLC" is "acme inc".

`normalize_company_name` is the key deal registration compares on (besides the domain):

1. accents folded and case ignored ("Lumière" → "lumiere");
2. dotted abbreviations joined ("S.A." → "sa", "A.C.M.E." → "acme");
3. every other run of punctuation or spaces becomes one space ("&" included);
4. a leading "the" and trailing legal-form words (inc, llc, ltd, gmbh, sa, bv …, several in a row
   as in "Acme Co. Ltd") dropped — only at the end, so "Co-op Bank" keeps its "co".

A name made only of such words keeps them ("Inc" stays "inc"): an empty key would match everything.
"""

import re
import unicodedata

LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "plc", "corp", "corporation", "co", "company",
    "gmbh", "mbh", "ag", "kg", "ohg", "sa", "sas", "sarl", "srl", "spa", "snc", "bv", "nv", "oy", "oyj", "ab", "as",
    "asa", "aps", "pty", "pvt", "kk", "sl", "slu", "sro", "ooo", "pte", "bhd", "sdn", "kft", "zrt", "se",
})  # fmt: skip

_DOTTED = re.compile(r"(?<=\w)\.(?=\w)")
_NOT_WORD = re.compile(r"[\W_]+")


def normalize_company_name(name: str) -> str:
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    text = _DOTTED.sub("", text)
    words = _NOT_WORD.sub(" ", text).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    kept = list(words)
    while kept and kept[-1] in LEGAL_SUFFIXES:
        kept.pop()
    return " ".join(kept or words)
