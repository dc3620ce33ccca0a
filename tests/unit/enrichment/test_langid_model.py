"""The standard-library reader of py3langid's model gives py3langid's own answers, without numpy.

(py3langid computes in float32, the reader in float64: the two agree within 1e-5 on texts of the length the
identifier reads, ``IDENTIFIED_CHARACTERS``; on very long texts the float32 rounding grows.)"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcrm.enrichment.langid_model import NaiveBayesLanguageModel

TEXTS = [
    "मेरा ऑर्डर अभी तक नहीं आया, कृपया जल्दी देखिए।",
    "The app is broken and I want a refund",
    "Bonjour, ma commande n'est pas arrivée",
    "مرحبا، لم يصل طلبي بعد",
    "这个产品很好",
    "這個產品很好用",
    "Terima kasih banyak atas bantuannya",
    "Das ist wirklich toll, danke!",
    "HELLO WORLD",
    "ok",
    "",
    "!!! 🙂🙂",
    "café \ud800 broken surrogate",
    "Привет, где мой заказ?",
    "mi pedido no ha llegado todavía",
]


@pytest.fixture(scope="module")
def models():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return NaiveBayesLanguageModel.bundled(), LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _same(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> None:
    mine = dict(ours)
    assert set(mine) == {label for label, _ in theirs}
    for label, probability in theirs:
        assert mine[label] == pytest.approx(probability, abs=1e-5), label
    assert ours[0][1] == pytest.approx(theirs[0][1], abs=1e-5)
    if theirs[0][1] - theirs[1][1] > 1e-4:  # a clear winner is the same winner
        assert ours[0][0] == theirs[0][0]


@pytest.mark.parametrize("text", TEXTS)
def test_every_label_has_py3langids_probability(models, text):
    ours, theirs = models
    _same(ours.rank(text), theirs.rank(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=500))
def test_any_text_is_ranked_as_py3langid_ranks_it(models, text):
    ours, theirs = models
    _same(ours.rank(text), theirs.rank(text))


def test_the_enrich_path_identifies_languages_without_importing_numpy():
    code = (
        "import sys\n"
        "from socialcrm.enrichment.language import LanguageIdentifier\n"
        "assert LanguageIdentifier().identify('Bonjour, ma commande n est pas encore arrivée') == 'fr'\n"
        "assert 'numpy' not in sys.modules and 'py3langid.langid' not in sys.modules, sorted(sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_a_long_message_is_identified_from_its_beginning_quickly():
    from socialcrm.enrichment.language import IDENTIFIED_CHARACTERS, LanguageIdentifier

    identifier = LanguageIdentifier()
    french = "Bonjour, ma commande n est pas encore arrivée et personne ne répond. " * 4000  # ~280 KB
    assert identifier.identify(french) == "fr"
    assert identifier.rank(french) == identifier.rank(french[:IDENTIFIED_CHARACTERS])
