"""``KeywordBaselineClassifier``: hand-written keyword rules, the named baseline the model must beat.

It is deliberately simple and transparent: each label is a list of regular expressions, a label's score is
1 - 0.5**(number of distinct rules that matched), and the explanation is the matched words. ``about_ims``
is a name match (IMS, Incident Management Solutions, @IMS_UK ...) unless another meaning of "IMS" is clearly
present (IP Multimedia Subsystem, Indianapolis Motor Speedway, IMS Health/IQVIA, the statistics institute).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.classifier.base import ClassificationResult, ClassifierInput
from pipeline.classifier.decisions import decide_labels, is_flagged, risk_score
from schemas.records import POLICY_LABELS

_IMS_NAME = re.compile(
    r"(?:\bincident\s+management\s+solutions?\b(?!\s+(?:market|vendors?|tools?|software|platforms?|category)\b)"
    r"|@ims_?uk\b|#ims\w*|\bims\s+uk\b|\bIMS\b)",
    re.IGNORECASE,
)
_OTHER_IMS = re.compile(
    r"\b(?:ip\s+multimedia|volte|vo-?lte|sip\b|3gpp|ims\s+core|p-cscf|s-cscf|cscf|indianapolis|indy\s*500|"
    r"speedway|brickyard|indycar|iqvia|ims\s+health|institute\s+of\s+mathematical\s+statistics|"
    r"mathematical\s+statistics|annals\s+of\s+statistics|itil|pagerduty|opsgenie|servicenow)",
    re.IGNORECASE,
)
_WORKPLACE = re.compile(r"\b(?:my\s+(?:work|job|employer|manager|boss|company)|at\s+work|the\s+office|our\s+team)\b",
                        re.IGNORECASE)

_RULES: dict[str, list[str]] = {
    "reputation_risk": [
        r"\bscam(?:mers?)?\b", r"\bcowboys?\b", r"\bavoid\b", r"\bworst\b", r"\bdisgrace(?:ful)?\b",
        r"\bboycott\b", r"\btribunal\b", r"\bshambles\b", r"\bincompetent\b", r"\bappalling\b", r"\bterrible\b",
        r"\bcomplain(?:t|ts|ed)?\b", r"\brip[- ]?off\b", r"\bjoke of a\b", r"\bnever again\b", r"\buseless\b",
    ],
    "disrepute": [
        r"\bi\s+work\s+(?:at|for)\b", r"\bmy\s+(?:manager|boss)\b", r"\bhate\s+(?:my|this)\s+job\b",
        r"\bunderpaid\b", r"\bmanagement\s+(?:are|is)\b", r"\bin\s+uniform\b", r"\bgrievance\b",
        r"\bcan'?t\s+stand\b", r"\bwork(?:ing)?\s+here\b", r"\bpay\s+rise\b",
    ],
    "logo_misuse": [
        r"\blogo\b", r"\bprofile\s+pic(?:ture)?\b", r"\bintranet\b", r"\bartwork\b", r"\bbranding\b",
        r"\bmerch\b", r"\bfake\s+(?:ims\s+)?page\b",
    ],
    "confidential_info": [
        r"\bconfidential\b", r"\bcontract\s+(?:worth|value)\b", r"£\s?\d", r"\bredundanc(?:y|ies)\b",
        r"\binternal\s+(?:email|memo|figures)\b", r"\bclient\s+list\b", r"\bleak(?:ed)?\b", r"\bnda\b",
        r"\bcustomer\s+data\b",
    ],
    "colleague_privacy": [
        r"\bhome\s+address\b", r"\bphone\s+number\b", r"\bher\s+number\b", r"\bhis\s+number\b",
        r"\bsick\s+(?:leave|note)\b", r"\bwithout\s+(?:her|his|their)\s+(?:permission|consent)\b",
        r"\bpic(?:ture)?s?\s+of\s+(?:my\s+)?colleague", r"\bwon'?t\s+take\s+(?:it|them)\s+down\b",
        r"\bdate\s+of\s+birth\b",
    ],
    "harassment": [
        r"\bbully(?:ing|ied)?\b", r"\bharass(?:ed|ing|ment)?\b", r"\bthreat(?:en|ened|s)?\b",
        r"\bkill\s+yourself\b", r"\bstupid\s+(?:cow|bitch|idiot)\b", r"\bwatch\s+your\s+back\b",
        r"\bpathetic\b", r"\bloser\b", r"\bugly\b", r"\btroll(?:s|ing)?\b",
    ],
    "defamation": [
        r"\bfraud(?:ster)?\b", r"\bstealing\b", r"\bstole\b", r"\bthie(?:f|ves)\b", r"\bliar\b",
        r"\bembezzl\w*\b", r"\bfalsif(?:y|ied|ying)\b", r"\bcorrupt\b", r"\bbribe\w*\b", r"\bcrook\b",
    ],
    "safeguarding": [
        r"\bwasted\b", r"\bsmashed\b", r"\bhammered\b", r"\bpills\b", r"\bcoke\b", r"\bbinge\b",
        r"\bself[- ]harm\b", r"\bhurt\s+yourself\b", r"\bpassword\b", r"\bnational\s+insurance\b",
        r"\bdm\s+me\b", r"\bmeet\s+up\b", r"\b(?:beat|batter|stab)\b", r"\bpints?\b", r"\bshots\b",
    ],
}
_COMPILED = {label: [re.compile(rule, re.IGNORECASE) for rule in rules] for label, rules in _RULES.items()}
assert set(_COMPILED) == set(POLICY_LABELS)

THRESHOLDS = dict.fromkeys(POLICY_LABELS, 0.5)


class KeywordBaselineClassifier:
    """Keyword rules (a baseline, kept for comparison with the transformer model)."""

    name = "keyword-baseline/1"

    def classify(self, inputs: Sequence[ClassifierInput]) -> list[ClassificationResult]:
        return [self._classify_one(item) for item in inputs]

    def _classify_one(self, item: ClassifierInput) -> ClassificationResult:
        text = item.text
        names = _IMS_NAME.findall(text)
        other = _OTHER_IMS.findall(text)
        if names and not other:
            about_ims = 0.9
        elif names and other:
            about_ims = 0.2
        elif item.author_is_employee and _WORKPLACE.search(text):
            about_ims = 0.6
        else:
            about_ims = 0.05
        scores: dict[str, float] = {}
        explanations: dict[str, list[str]] = {}
        for label, patterns in _COMPILED.items():
            matched = [m.group(0) for p in patterns if (m := p.search(text))]
            scores[label] = 1.0 - 0.5 ** len(matched)
            if matched:
                explanations[label] = matched
        labels = decide_labels(scores, THRESHOLDS)
        return ClassificationResult(
            id=item.id, about_ims=about_ims, scores=scores, labels=labels,
            flagged=is_flagged(about_ims=about_ims, author_is_employee=item.author_is_employee, labels=labels),
            risk=risk_score(scores=scores, labels=labels, about_ims=about_ims,
                            author_is_employee=item.author_is_employee),
            explanations={label: explanations[label] for label in labels},
        )
