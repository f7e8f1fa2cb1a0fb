"""The classifier stage: policy labels, ``about_ims``, ``flagged`` and ``risk`` for each mention.

    base.py                the Classifier protocol, ClassifierInput, ClassificationResult
    decisions.py           thresholds -> labels, the flagged rule, the 0-100 risk score (shared by all)
    model.py               OnnxPolicyClassifier: fine-tuned MiniLM, int8 ONNX Runtime, explanations
    keyword_baseline.py    KeywordBaselineClassifier (baseline)
    sentiment_baseline.py  SentimentProfanityBaselineClassifier: VADER + alt-profanity-check (baseline)
    registry.py            create_classifier(name, settings): what the worker and `classify` use
    batch.py               JSONL in, JSONL out (`ims-monitor classify`)
    encoder.py             the torch-free ONNX graph of the BERT encoder, and its int8 quantisation
    corpus.py              the labelled corpus and its fixed train/dev/test split
    finetune.py            fine-tuning in JAX (the `train` extra)
    training.py            `ims-monitor train`: corpus -> artifact folder with model card (cached)
    evaluation.py          `ims-monitor evaluate`: per-label scores, model vs baselines
    bench.py               `ims-monitor bench classify`: throughput
    commands.py            the click commands above
"""
