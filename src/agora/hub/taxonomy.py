"""The Hub's vocabularies: tasks (grouped by domain), licenses, language codes, libraries, dataset categories.

Data, not logic. Card validation and tag derivation (cards.py) and the UI sidebar read it.
"""

from __future__ import annotations

TASKS_BY_DOMAIN: dict[str, list[str]] = {
    "Multimodal": [
        "audio-text-to-text",
        "image-text-to-text",
        "visual-question-answering",
        "document-question-answering",
        "video-text-to-text",
        "visual-document-retrieval",
        "any-to-any",
    ],
    "Computer Vision": [
        "depth-estimation",
        "image-classification",
        "object-detection",
        "image-segmentation",
        "text-to-image",
        "image-to-text",
        "image-to-image",
        "image-to-video",
        "unconditional-image-generation",
        "video-classification",
        "text-to-video",
        "zero-shot-image-classification",
        "mask-generation",
        "zero-shot-object-detection",
        "text-to-3d",
        "image-to-3d",
        "image-feature-extraction",
        "keypoint-detection",
        "video-to-video",
    ],
    "Natural Language Processing": [
        "text-classification",
        "token-classification",
        "table-question-answering",
        "question-answering",
        "zero-shot-classification",
        "translation",
        "summarization",
        "feature-extraction",
        "text-generation",
        "text2text-generation",
        "fill-mask",
        "sentence-similarity",
        "text-ranking",
        "multiple-choice",
        "text-retrieval",
        "table-to-text",
    ],
    "Audio": [
        "text-to-speech",
        "text-to-audio",
        "automatic-speech-recognition",
        "audio-to-audio",
        "audio-classification",
        "voice-activity-detection",
    ],
    "Tabular": ["tabular-classification", "tabular-regression", "tabular-to-text", "time-series-forecasting"],
    "Reinforcement Learning": ["reinforcement-learning", "robotics"],
    "Other": ["graph-ml", "other"],
}
TASKS: list[str] = [t for ts in TASKS_BY_DOMAIN.values() for t in ts]
TASK_SET = frozenset(TASKS)
DOMAIN_OF = {t: d for d, ts in TASKS_BY_DOMAIN.items() for t in ts}
# The Hub's names of the tasks that tagnames.task_name's rule ("text-to-image" -> "Text-to-Image") does not
# produce (huggingface.js PIPELINE_DATA names them so).
TASK_NAMES: dict[str, str] = {
    "fill-mask": "Fill-Mask",
    "text2text-generation": "Text2Text Generation",
    "zero-shot-classification": "Zero-Shot Classification",
    "zero-shot-image-classification": "Zero-Shot Image Classification",
    "zero-shot-object-detection": "Zero-Shot Object Detection",
    "graph-ml": "Graph Machine Learning",
    "tabular-to-text": "Tabular to Text",
    "table-to-text": "Table to Text",
}

LICENSES = frozenset(
    """
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0
cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0
cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl
gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr
mpl-2.0 odc-by odbl openmdw-1.0 openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma
unknown other
""".split()
)

# ISO 639-1 (two letters). Three-letter ISO 639-3 codes are accepted by shape (see cards.is_language).
ISO639_1 = frozenset(
    """
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el
en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu
ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na
nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so
sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split()
)
# Common three-letter codes we know for sure (used to tell a language tag from a word in `tags:`).
ISO639_3_COMMON = frozenset(
    """
eng spa fra deu ita por rus zho jpn kor ara hin ben urd tur vie tha pol nld swe nor dan fin ces slk hun ron bul
ell heb fas ukr cat eus glg msa ind tgl swa yor ibo hau amh som zul xho afr kin lug wol fil yue cmn
""".split()
)

# Libraries: name -> how it is recognised from the files of a repo (first match wins; order matters).
LIBRARIES = [
    "transformers",
    "diffusers",
    "sentence-transformers",
    "peft",
    "adapter-transformers",
    "timm",
    "sklearn",
    "keras",
    "tf-keras",
    "spacy",
    "fastai",
    "flair",
    "stable-baselines3",
    "ml-agents",
    "onnx",
    "gguf",
    "llama.cpp",
    "mlx",
    "open_clip",
    "setfit",
    "span-marker",
    "speechbrain",
    "espnet",
    "nemo",
    "paddlenlp",
    "fasttext",
    "pytorch",
    "tensorflow",
    "jax",
    "joblib",
    "safetensors",
    "transformers.js",
    "coreml",
    "tflite",
    "openvino",
    "ctranslate2",
    "gliner",
    "pyannote-audio",
    "other",
]

FRAMEWORK_FILES: list[tuple[str, str]] = [
    # (tag, file-name rule: suffix or exact name)
    ("pytorch", "pytorch_model.bin"),
    ("pytorch", ".pt"),
    ("pytorch", ".pth"),
    ("safetensors", ".safetensors"),
    ("tf", "tf_model.h5"),
    ("tf", "saved_model.pb"),
    ("jax", "flax_model.msgpack"),
    ("onnx", ".onnx"),
    ("gguf", ".gguf"),
    ("keras", ".keras"),
    ("tflite", ".tflite"),
    ("coreml", ".mlmodel"),
]

DATASET_TASK_CATEGORIES = frozenset(TASKS) | frozenset(
    {
        "text-classification",
        "token-classification",
        "tabular-classification",
        "text-generation",
        "question-answering",
        "summarization",
        "translation",
        "time-series-forecasting",
        "text-retrieval",
    }
)
SIZE_CATEGORIES = [
    "n<1K",
    "1K<n<10K",
    "10K<n<100K",
    "100K<n<1M",
    "1M<n<10M",
    "10M<n<100M",
    "100M<n<1B",
    "1B<n<10B",
    "10B<n<100B",
    "100B<n<1T",
    "n>1T",
]
DATASET_PREFIXES = (
    "task_categories",
    "task_ids",
    "language",
    "license",
    "size_categories",
    "modality",
    "format",
    "library",
    "multilinguality",
    "language_creators",
    "annotations_creators",
    "source_datasets",
    "benchmark",
    "region",
)
MODALITY_BY_EXT = {
    "text": (".txt", ".json", ".jsonl", ".csv", ".tsv", ".parquet", ".arrow"),
    "image": (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tiff"),
    "audio": (".wav", ".mp3", ".flac", ".ogg", ".aac"),
    "video": (".mp4", ".webm", ".mkv"),
}
FORMAT_BY_EXT = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".txt": "text",
    ".arrow": "arrow",
    ".png": "imagefolder",
    ".jpg": "imagefolder",
    ".jpeg": "imagefolder",
    ".wav": "audiofolder",
    ".mp3": "audiofolder",
    ".flac": "audiofolder",
    ".webdataset": "webdataset",
    ".tar": "webdataset",
}

# Architecture suffix -> (AutoModel class, pipeline tag): how a transformers config names its task.
ARCHITECTURE_TASKS: list[tuple[str, str, str]] = [
    ("ForSequenceClassification", "AutoModelForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "AutoModelForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "AutoModelForQuestionAnswering", "question-answering"),
    ("ForMaskedLM", "AutoModelForMaskedLM", "fill-mask"),
    ("ForCausalLM", "AutoModelForCausalLM", "text-generation"),
    ("LMHeadModel", "AutoModelForCausalLM", "text-generation"),
    ("ForConditionalGeneration", "AutoModelForSeq2SeqLM", "text2text-generation"),
    ("ForSpeechSeq2Seq", "AutoModelForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForCTC", "AutoModelForCTC", "automatic-speech-recognition"),
    ("ForImageClassification", "AutoModelForImageClassification", "image-classification"),
    ("ForObjectDetection", "AutoModelForObjectDetection", "object-detection"),
    ("ForAudioClassification", "AutoModelForAudioClassification", "audio-classification"),
    ("ForMultipleChoice", "AutoModelForMultipleChoice", "multiple-choice"),
    ("Model", "AutoModel", "feature-extraction"),
]
