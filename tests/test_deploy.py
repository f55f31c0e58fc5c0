"""Deployed mode and the Dockerfile: limits hold, hostile links are refused, the image cannot rot silently."""

from __future__ import annotations

import re
import shlex

import pytest

from induction.config import MapConfig, ModelLoadError
from induction.engine import compute_map

from .conftest import ROOT
from .test_app import charts, make_app


@pytest.fixture()
def deployed(monkeypatch):
    monkeypatch.setenv("INDUCTION_DEPLOYED", "1")
    monkeypatch.setenv("INDUCTION_ALLOWED_MODELS", "toy,minilm")
    monkeypatch.setenv("INDUCTION_MAX_TRIALS", "100")


@pytest.mark.parametrize("params, fragment", [
    ({"model": "../../etc"}, "this server offers toy, minilm"),
    ({"model": "/etc"}, "this server offers"),
    ({"model": "someone/huge-model"}, "this server offers"),
    ({"trials": "100000"}, "must be between 1 and 100"),
    ({"trials": "-1"}, "ignored trials=-1: must be between 1 and 100"),
    ({"segment": "99999"}, "must be between 1 and 250"),
    ({"seed": "x" * 10000}, "write a whole number"),
])
def test_hostile_links_fall_back_with_a_notice(deployed, params, fragment):
    at = make_app(**params).run()
    assert not at.exception
    assert any(fragment in w.value for w in at.warning), [w.value for w in at.warning]
    assert len(charts(at)) == 1 and at.query_params["model"] == "toy"


def test_no_free_model_ids_or_paths_in_the_sidebar(deployed):
    at = make_app(trials=4).run()
    options = at.selectbox(key="w_model").options
    assert len(options) == 2 and options[0].startswith("toy") and options[1].startswith("minilm")
    assert not at.text_input  # no free-form model field


def test_engine_refuses_models_off_the_allow_list_before_touching_disk(deployed, random_bert):
    with pytest.raises(ModelLoadError, match="only these models: toy, minilm"):
        compute_map(MapConfig(model=random_bert, trials=1), use_cache=False)  # an existing folder, still refused
    with pytest.raises(ModelLoadError, match="only these models"):
        compute_map(MapConfig(model="../../etc", trials=1), use_cache=False)


def _dockerfile():
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_copies_files_that_exist():
    for line in _dockerfile().splitlines():
        if line.startswith("COPY "):
            for src in shlex.split(line)[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the repo"


def test_dockerfile_runs_the_readme_app_with_a_health_check():
    text = _dockerfile()
    entry = re.search(r'ENTRYPOINT \[(.*)\]', text).group(1)
    assert '"streamlit", "run", "serve.py"' in entry and "--server.address=0.0.0.0" in entry
    assert "streamlit run serve.py" in (ROOT / "Makefile").read_text()  # serve.py loads the default model first
    assert "/_stcore/health" in re.search(r"HEALTHCHECK.*\n.*", text).group(0)
    assert "EXPOSE 8501" in text and re.search(r"^USER (?!root)\w+", text, re.M)
    assert "torch==2.13.0" in text and "requirements.txt" in text
    assert "ARG PRECOMPUTE_MODELS" in text and "python -m induction precompute" in text
    readme = (ROOT / "README.md").read_text()
    assert "docker build" in readme and "docker run" in readme


def test_deployed_mode_hides_error_details(deployed):
    from streamlit import config

    at = make_app(trials=4).run()
    assert not at.exception
    assert config.get_option("client.showErrorDetails") in (False, "none")
    config.set_option("client.showErrorDetails", "full")  # leave the process as we found it


def test_deployed_mode_offers_exactly_the_listed_models_and_no_developer_advice(monkeypatch):
    from induction import deploy
    from induction.models.hub import offline_hint

    monkeypatch.setenv("INDUCTION_DEPLOYED", "1")
    monkeypatch.setenv("INDUCTION_ALLOWED_MODELS", "toy minilm tiny")  # the image's own list, space-separated
    assert deploy.limits().allowed_models == ("toy", "minilm", "tiny")
    hint = offline_hint("tiny", "prajjwal1/bert-tiny", "no network")
    assert "HF_HUB_OFFLINE" not in hint and "cannot load model 'tiny'" in hint


def test_the_image_holds_what_it_offers_and_its_precomputed_tier_is_root_owned():
    text = _dockerfile()
    from induction.models.registry import OFFLINE_MODELS

    offline = " ".join(OFFLINE_MODELS)  # every offline model, the depth series too
    assert f'INDUCTION_ALLOWED_MODELS="{offline} ${{PRECOMPUTE_MODELS}}"' in text
    assert f"precompute --models {offline} ${{PRECOMPUTE_MODELS}}" in text  # what it offers, it holds
    import re

    from induction.analyses.mosaic import MOSAIC_MODELS

    default = re.search(r'ARG PRECOMPUTE_MODELS="([^"]*)"', text).group(1).split()
    assert set(MOSAIC_MODELS) <= {*offline.split(), *default}  # the Mosaic page's defaults are precomputed
    precompute = text.index("python -m induction precompute")
    assert precompute < text.index("USER app")  # computed as root: the runtime user cannot write the tier
    assert "chown -R app /app/cache /app/hf" in text
