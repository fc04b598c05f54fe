"""A formula and one line beside each training control, for the choice currently selected, in
both languages; the loss chart says which loss it plots and that the penalty is not in it."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.page_model import OPTIONS

EXPLAINED = ("loss", "optimizer", "schedule", "reg", "init", "preprocessing", "convention")


def help_of(html: str, control: str) -> str:
    match = re.search(rf'data-control="{control}".*?<small class="control-help">(.*?)</small>', html, re.S)
    assert match, f"no help beside {control}"
    return unescape(match.group(1))


def test_every_choice_of_every_explained_control_has_its_help() -> None:
    for kind in EXPLAINED:
        for choice in OPTIONS.choices[kind]:
            assert EN[f"help.{kind}.{choice}"] and ES[f"help.{kind}.{choice}"], (kind, choice)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_help_beside_each_control_follows_the_choice(client: TestClient, lang: str) -> None:
    catalogue = {"en": EN, "es": ES}[lang]
    query = ("optimizer=rmsprop&schedule=step&reg=l1&reg_rate=0.01&init=he&preprocessing=normalize&loss=mse"
             "&convention=standard")
    html = client.get(f"/?{query}&lang={lang}").text
    chosen = dict(item.split("=") for item in query.split("&"))
    for kind in EXPLAINED:
        assert help_of(html, kind) == catalogue[f"help.{kind}.{chosen[kind]}"], kind
    assert help_of(html, "lr") == catalogue["help.lr"]
    # the label's title says it too: narrow screens hide the line and keep the tooltip
    title = re.search(r'data-control="loss" title="([^"]*)"', html)
    assert title and unescape(title.group(1)) == catalogue["help.loss.mse"]
    # a hidden control takes its help with it
    assert '<small class="control-help">' not in client.get(f"/?{query}&hide={','.join((*EXPLAINED, 'lr'))}").text


def test_rmsprop_smoothing_is_rho_not_the_learning_rates_alpha() -> None:
    for catalogue in (EN, ES):
        assert "ρ" in catalogue["field.alpha"] and "α" not in catalogue["field.alpha"]
        assert "ρ·s + (1 − ρ)" in catalogue["help.optimizer.rmsprop"]


def test_regularization_help_says_the_chart_plots_no_penalty() -> None:
    assert "without the penalty" in EN["help.reg.l2"] and "sin la penalización" in ES["help.reg.l1"]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_tensorflow_playgrounds_conventions_explain_their_output_labels_and_loss(client: TestClient, lang: str) -> None:
    catalogue = {"en": EN, "es": ES}[lang]
    html = client.get(f"/?convention=tfpg&lang={lang}").text
    assert help_of(html, "convention") == catalogue["help.convention.tfpg"]
    assert "o = tanh(z)" in catalogue["help.convention.tfpg"] and "t = ±1" in catalogue["help.convention.tfpg"]
    assert help_of(html, "loss") == catalogue["help.loss.tfpg"]  # not "automatic: cross-entropy ..."
    assert 'id="control-convention"' in html and '<option value="tfpg" selected>' in html


@pytest.mark.parametrize(("query", "plotted"), [
    ("dataset=circle", "cross_entropy"),  # automatic, for classes
    ("dataset=plane", "mse"),  # automatic, for regression
    ("dataset=circle&loss=mse", "mse"),
    ("dataset=circle&convention=tfpg", "half_square"),  # TensorFlow Playground's ½(o − t)²
    ("dataset=plane&convention=tfpg", "half_square"),
])
def test_the_loss_chart_names_the_loss_it_plots(client: TestClient, query: str, plotted: str) -> None:
    for lang, catalogue in (("en", EN), ("es", ES)):
        html = unescape(client.get(f"/?{query}&lang={lang}").text)
        assert catalogue["output.loss_plotted"].format(loss=catalogue[f"loss.{plotted}"]) in html
