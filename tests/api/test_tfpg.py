"""TensorFlow Playground links: every setting mapped, a note for each one without a counterpart,
and /from-tfpg redirecting to the canonical page that shows those notes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.config import PlaygroundConfig
from app.tfpg import MAX_URL, from_tfpg, read_notes, tfpg_fragment

# TensorFlow Playground's own address for its default set-up, as its address bar shows it.
TF_DEFAULT = ("https://playground.tensorflow.org/#activation=tanh&batchSize=10&dataset=circle&regDataset=reg-plane"
              "&learningRate=0.03&regularizationRate=0&noise=0&networkShape=4,2&seed=0.81280&showTestData=false"
              "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false&ySquared=false"
              "&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false&problem=classification"
              "&initZero=false&hideText=false")


def convert(url: str) -> tuple[PlaygroundConfig, list[tuple[str, str]]]:
    return from_tfpg(tfpg_fragment(url))


def test_the_default_tensorflow_playground() -> None:
    config, notes = convert(TF_DEFAULT)
    assert config == PlaygroundConfig(init="playground", convention="tfpg", seed=81280)
    assert notes == [("seed", "seed"), ("unsupported", "collectStats")]


def test_every_setting_has_its_counterpart() -> None:
    config, notes = convert(
        "https://playground.tensorflow.org/#activation=relu&batchSize=25&dataset=spiral&learningRate=0.3"
        "&regularization=L1&regularizationRate=0.003&noise=35&networkShape=8,5,1&showTestData=true&discretize=true"
        "&percTrainData=80&x=false&y=true&xTimesY=true&xSquared=true&ySquared=true&sinX=true&sinY=true"
        "&cosX=true&cosY=true&problem=classification&initZero=true&hideText=true")
    assert notes == []
    assert config.model_dump() == {
        **PlaygroundConfig().model_dump(), "dataset": "spiral", "activation": "relu", "batch": 25, "lr": 0.3,
        "reg": "l1", "reg_rate": 0.003, "noise": 35, "layers": (8, 5, 1), "show_test": True, "discretize": True,
        "train": 80, "features": ("x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2", "cosx1", "cosx2"),
        "init": "zeros", "hide_text": True, "convention": "tfpg",
    }


@pytest.mark.parametrize(("fragment", "dataset"), [
    ("problem=regression&regDataset=reg-plane&dataset=xor", "plane"),
    ("problem=regression&regDataset=reg-gauss", "gaussians"),
    ("dataset=gauss", "gauss"), ("dataset=xor&regDataset=reg-gauss", "xor"),
])
def test_datasets_follow_the_problem(fragment: str, dataset: str) -> None:
    config, notes = convert(f"playground.tensorflow.org/#{fragment}")
    assert config.dataset == dataset and notes == []


def test_no_hidden_layers_and_hidden_controls() -> None:
    config, notes = convert("#networkShape=&dataset_hide=true&learningRate_hide=true&x_hide=true&noise_hide=false")
    assert config.layers == () and config.hide == ("dataset", "lr", "feature_x1") and notes == []


def test_values_without_a_counterpart_fall_back_with_a_note() -> None:
    config, notes = convert("#activation=swish2&dataset=moons&batchSize=0&learningRate=100&networkShape=4,9"
                            "&problem=ranking&regularization=L3&tutorial=intro")
    assert notes == [("invalid", "problem"), ("invalid", "dataset"), ("invalid", "activation"),
                     ("invalid", "regularization"), ("unsupported", "tutorial"), ("invalid", "networkShape"),
                     ("invalid", "learningRate"), ("invalid", "batchSize")]
    assert config == PlaygroundConfig(init="playground", convention="tfpg")


@pytest.mark.parametrize("url", ["https://example.com/#dataset=xor", "x" * (MAX_URL + 1), " "])
def test_only_tensorflow_playground_addresses(url: str) -> None:
    with pytest.raises(ValueError):
        tfpg_fragment(url)


def test_from_tfpg_redirects_to_the_canonical_page_with_its_notes(client: TestClient) -> None:
    answer = client.get("/from-tfpg", params={"url": TF_DEFAULT, "lang": "es"}, follow_redirects=False)
    assert answer.status_code == 303
    location = answer.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"/?{PlaygroundConfig(init='playground', convention='tfpg', seed=81280).to_query()}&lang=es")
    assert query["convention"] == ["tfpg"]  # trained with TF's own numbers
    assert query["tfpg"] == ["seed.seed,unsupported.collectStats"]
    page = client.get(location)
    assert page.status_code == 200
    assert "la semilla aleatoria de TensorFlow Playground no se puede reproducir aquí" in page.text
    assert "collectStats: este ajuste de TensorFlow Playground no tiene equivalente aquí" in page.text


def test_a_foreign_address_opens_the_default_playground_with_a_note(client: TestClient) -> None:
    page = client.get("/from-tfpg", params={"url": "https://example.com/#dataset=xor"})
    assert page.status_code == 200 and "is not a TensorFlow Playground address" in page.text
    assert client.get("/from-tfpg", follow_redirects=False).headers["location"].endswith("&tfpg=address.url")


def test_notes_in_a_link_are_read_strictly() -> None:
    assert [(e.field, e.code) for e in read_notes("seed.seed,evil.<script>,invalid.<b>,invalid.noise,unsupported")] == [
        ("seed", "tfpg_seed"), ("noise", "tfpg_invalid")]
