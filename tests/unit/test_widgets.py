"""hub/widgets.py: widgetData, the Hub's widget: errors, which examples fit a widget, the tokenizer facts."""

from __future__ import annotations

from agora.hub import widgets


def test_widget_data() -> None:
    assert widgets.widget_data({"widget": [{"text": "a"}]}, "fill-mask", "[MASK]") == [{"text": "a"}]
    assert widgets.widget_data({"widget": "a"}, "fill-mask", "[MASK]")[0] == {
        "text": "Paris is the [MASK] of France."
    }
    assert widgets.widget_data({}, "text-generation", None, ["conversational"])[0] == {
        "text": "Hi, what can you help me with?"
    }
    assert widgets.widget_data(None, None) == []
    assert widgets.widget_errors("a") == ['"widget" must be an array']
    assert widgets.widget_errors([{}, "b", 3]) == [
        '"widget[1]" must be of type object',
        '"widget[2]" must be of type object',
    ]


def test_example_fits() -> None:
    assert widgets.example_fits("text-generation", {"text": "x"})
    assert not widgets.example_fits("text-generation", {"src": "a.wav"})
    assert widgets.example_fits("question-answering", {"text": "q", "context": "c"})
    assert not widgets.example_fits("question-answering", {"text": "q"})
    assert widgets.example_fits("sentence-similarity", {"source_sentence": "a", "sentences": ["b"]})
    assert widgets.example_fits("automatic-speech-recognition", {"src": "a.wav"})
    assert widgets.example_fits("conversational", {"messages": [{"role": "user", "content": "hi"}]})


def test_displayability_and_tokenizer_facts() -> None:
    assert widgets.displayability({"inference": False}, "transformers", "fill-mask", None) == "ExplicitOptOut"
    assert (
        widgets.displayability({}, "transformers", "fill-mask", {"auto_map": {"AutoModel": "x.Y"}})
        == "CustomCode"
    )
    assert widgets.displayability({}, "transformers", None, None) == "PipelineNotDetected"
    assert widgets.displayability({}, "diffusers", "text-to-image", None) == "PipelineLibraryPairNotSupported"
    assert widgets.displayability({}, "sentence-transformers", "sentence-similarity", None) == "Yes"
    facts = widgets.tokenizer_facts(b'{"mask_token": {"content": "<mask>"}}', b"{{ messages }}")
    assert facts == {"mask_token": "<mask>", "chat_template": "{{ messages }}"}
    assert widgets.tokenizer_facts(b"not json", None) == {}
