"""Settings: defaults, Jupyter config files, environment, precedence; credentials never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mai_widgets.auth.config as config_module
import mai_widgets.auth.credentials as credentials_module
from mai_widgets.auth.config import SETTING_ENV_VARS, MaiConfig, load_config
from mai_widgets.auth.credentials import (
    CREDENTIAL_ENV_VARS,
    CREDENTIALS_FILE_ENV,
    Credentials,
    credentials_problem,
)
from mai_widgets.errors import ConfigError

SECRETS = {
    "HUAWEICLOUD_SDK_AK": "AKVALUE-4f1e8c2a",
    "HUAWEICLOUD_SDK_SK": "SKVALUE-9b7d3e11",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN": "STVALUE-0c5a6b77",
    "MAI_WIDGETS_TOKEN": "TOKVALUE-6e2f9d40",
    "MAI_WIDGETS_IAM_PASSWORD": "PWVALUE-3a8c1f5e",
}


def _load(
    env: dict[str, str] | None = None, dirs: list[Path] | None = None, **overrides: object
) -> MaiConfig:
    return load_config(env=env or {}, config_dirs=[str(d) for d in (dirs or [])], **overrides)


def test_defaults() -> None:
    cfg = _load()
    assert cfg.region == "cn-north-4"
    assert cfg.modelarts_endpoint() == "https://modelarts.cn-north-4.myhuaweicloud.com"
    assert cfg.iam_url() == "https://iam.cn-north-4.myhuaweicloud.com"
    assert cfg.project_id == ""
    assert cfg.workspace_id == "0"
    assert cfg.timeouts() == (5.0, 30.0)
    assert cfg.verify_tls is True
    assert cfg.requests_verify() is True
    assert (cfg.poll_initial, cfg.poll_factor, cfg.poll_max) == (1.0, 1.5, 5.0)
    assert cfg.wait_timeout == 1800.0
    assert cfg.max_retries == 3
    assert cfg.endpoint_description() == (
        "ModelArts cn-north-4 (https://modelarts.cn-north-4.myhuaweicloud.com)"
    )


def test_endpoints_follow_the_region() -> None:
    cfg = _load({"MAI_WIDGETS_REGION": "ap-southeast-1"})
    assert cfg.modelarts_endpoint() == "https://modelarts.ap-southeast-1.myhuaweicloud.com"
    assert cfg.iam_url() == "https://iam.ap-southeast-1.myhuaweicloud.com"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_endpoint_is_described_as_the_emulator(host: str) -> None:
    cfg = _load({"MAI_WIDGETS_ENDPOINT": f"http://{host}:8765/"})
    assert cfg.modelarts_endpoint() == f"http://{host}:8765"
    assert cfg.endpoint_description() == f"local ModelArts emulator at http://{host}:8765"


def test_every_setting_from_the_environment() -> None:
    env = {
        "MAI_WIDGETS_REGION": "cn-east-3",
        "MAI_WIDGETS_ENDPOINT": "https://ma.example.test",
        "MAI_WIDGETS_IAM_ENDPOINT": "https://iam.example.test:8443",
        "HUAWEICLOUD_SDK_PROJECT_ID": "0123456789abcdef0123456789abcdef",
        "MAI_WIDGETS_WORKSPACE_ID": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "MAI_WIDGETS_VERIFY_TLS": "false",
        "MAI_WIDGETS_CA_BUNDLE": "/etc/ssl/ca.pem",
        "MAI_WIDGETS_IAM_USER": "alice",
        "MAI_WIDGETS_IAM_DOMAIN": "acme",
        "MAI_WIDGETS_CONNECT_TIMEOUT": "2.5",
        "MAI_WIDGETS_READ_TIMEOUT": "12",
        "MAI_WIDGETS_MAX_RETRY_AFTER": "7.5",
        "MAI_WIDGETS_ALLOW_HTTP": "true",
        "MAI_WIDGETS_METADATA_ENDPOINT": "http://169.254.169.254:8080",
        "MAI_WIDGETS_METADATA_CONNECT_TIMEOUT": "0.5",
        "MAI_WIDGETS_SWR_ENDPOINT": "https://swr.example.test",
        "MAI_WIDGETS_SWR_REGISTRY_ENDPOINT": "https://registry.example.test:5000",
        "MAI_WIDGETS_NOTEBOOK_ID": "6f2a0b3c-1d4e-4f50-9a6b-7c8d9e0f1a2b",
        "MAI_WIDGETS_LANGUAGE": "zh-CN",
    }
    assert set(env) == set(SETTING_ENV_VARS)
    cfg = _load(env)
    assert cfg.region == "cn-east-3"
    assert cfg.modelarts_endpoint() == "https://ma.example.test"
    assert cfg.iam_url() == "https://iam.example.test:8443"
    assert cfg.project_id == "0123456789abcdef0123456789abcdef"
    assert cfg.workspace_id == "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert cfg.verify_tls is False
    assert cfg.requests_verify() == "/etc/ssl/ca.pem"  # a CA bundle wins over the flag
    assert (cfg.iam_user, cfg.iam_domain) == ("alice", "acme")
    assert cfg.timeouts() == (2.5, 12.0)
    assert cfg.max_retry_after == 7.5 and cfg.allow_http is True
    assert (cfg.metadata_endpoint, cfg.metadata_connect_timeout) == ("http://169.254.169.254:8080", 0.5)
    assert cfg.swr_url() == "https://swr.example.test"
    assert cfg.notebook_id == "6f2a0b3c-1d4e-4f50-9a6b-7c8d9e0f1a2b"
    assert cfg.language == "zh_CN"
    # only the region's SWR registry host is redirected; another registry is asked directly
    assert cfg.swr_registry_url("swr.cn-east-3.myhuaweicloud.com") == "https://registry.example.test:5000"
    assert (
        cfg.swr_registry_url("swr.cn-north-4.myhuaweicloud.com") == "https://swr.cn-north-4.myhuaweicloud.com"
    )


def test_notebook_id_must_be_an_instance_id() -> None:
    with pytest.raises(ConfigError, match="MAI_WIDGETS_NOTEBOOK_ID"):
        _load({"MAI_WIDGETS_NOTEBOOK_ID": "../images"})
    assert _load({}).notebook_id == ""


def test_swr_endpoints_default_from_the_region_and_refuse_user_info() -> None:
    cfg = _load({"MAI_WIDGETS_REGION": "ap-southeast-1"})
    assert cfg.swr_url() == "https://swr-api.ap-southeast-1.myhuaweicloud.com"
    assert (
        cfg.swr_registry_url("swr.ap-southeast-1.myhuaweicloud.com")
        == "https://swr.ap-southeast-1.myhuaweicloud.com"
    )
    with pytest.raises(ConfigError, match="MAI_WIDGETS_SWR_REGISTRY_ENDPOINT"):
        _load({"MAI_WIDGETS_SWR_REGISTRY_ENDPOINT": "https://user:pw@registry.example.test"})


def test_blank_environment_values_are_ignored() -> None:
    cfg = _load({"MAI_WIDGETS_REGION": "  ", "MAI_WIDGETS_ENDPOINT": ""})
    assert cfg.region == "cn-north-4"
    assert cfg.endpoint == ""


def test_json_config_file(tmp_path: Path) -> None:
    (tmp_path / "mai_widgets_config.json").write_text(
        json.dumps({"MaiConfig": {"region": "cn-south-1", "poll_max": 2.0, "max_retries": 5}})
    )
    cfg = _load(dirs=[tmp_path])
    assert (cfg.region, cfg.poll_max, cfg.max_retries) == ("cn-south-1", 2.0, 5)


def test_python_config_file(tmp_path: Path) -> None:
    (tmp_path / "mai_widgets_config.py").write_text(
        "c.MaiConfig.endpoint = 'http://127.0.0.1:9999'\nc.MaiConfig.poll_initial = 0.25\n"
    )
    cfg = _load(dirs=[tmp_path])
    assert cfg.endpoint == "http://127.0.0.1:9999"
    assert cfg.poll_initial == 0.25


def test_precedence_user_dir_then_env_then_arguments(tmp_path: Path) -> None:
    user, system = tmp_path / "user", tmp_path / "system"
    user.mkdir()
    system.mkdir()
    (system / "mai_widgets_config.json").write_text(
        json.dumps(
            {
                "MaiConfig": {
                    "region": "cn-south-1",
                    "workspace_id": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                    "read_timeout": 7,
                }
            }
        )
    )
    (user / "mai_widgets_config.json").write_text(
        json.dumps({"MaiConfig": {"workspace_id": "cccccccccccccccccccccccccccccccc"}})
    )
    # In one directory the .py file is read after the .json file, so it wins.
    (user / "mai_widgets_config.py").write_text("c.MaiConfig.read_timeout = 9.0\n")
    # Jupyter lists the most specific directory first.
    cfg = _load(dirs=[user, system])
    assert (cfg.region, cfg.workspace_id, cfg.read_timeout) == (
        "cn-south-1",
        "cccccccccccccccccccccccccccccccc",
        9.0,
    )
    cfg = _load(
        {"MAI_WIDGETS_WORKSPACE_ID": "dddddddddddddddddddddddddddddddd", "MAI_WIDGETS_READ_TIMEOUT": "11"},
        dirs=[user, system],
    )
    assert (cfg.workspace_id, cfg.read_timeout) == ("dddddddddddddddddddddddddddddddd", 11.0)
    cfg = _load(
        {"MAI_WIDGETS_WORKSPACE_ID": "dddddddddddddddddddddddddddddddd"},
        dirs=[user, system],
        workspace_id="eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
    )
    assert cfg.workspace_id == "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"


def test_default_config_path_is_jupyters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mai_widgets_config.json").write_text(json.dumps({"MaiConfig": {"region": "cn-east-2"}}))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    assert load_config(env={}).region == "cn-east-2"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAI_WIDGETS_VERIFY_TLS": "maybe"}, "MAI_WIDGETS_VERIFY_TLS"),
        ({"MAI_WIDGETS_CONNECT_TIMEOUT": "soon"}, "MAI_WIDGETS_CONNECT_TIMEOUT"),
        ({"MAI_WIDGETS_READ_TIMEOUT": "-1"}, "MAI_WIDGETS_READ_TIMEOUT"),
        ({"MAI_WIDGETS_REGION": "CN North 4"}, "MAI_WIDGETS_REGION"),
        ({"MAI_WIDGETS_ENDPOINT": "ftp://example.test"}, "MAI_WIDGETS_ENDPOINT"),
        ({"MAI_WIDGETS_ENDPOINT": "https://example.test/?x=1"}, "MAI_WIDGETS_ENDPOINT"),
        ({"MAI_WIDGETS_IAM_ENDPOINT": "https://example.test:99999"}, "MAI_WIDGETS_IAM_ENDPOINT"),
        ({"HUAWEICLOUD_SDK_PROJECT_ID": "../other"}, "HUAWEICLOUD_SDK_PROJECT_ID"),
        ({"MAI_WIDGETS_WORKSPACE_ID": "a/b"}, "MAI_WIDGETS_WORKSPACE_ID"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(env)
    assert named in str(info.value)
    assert info.value.missing == (named,)


def test_user_info_in_an_endpoint_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        _load({"MAI_WIDGETS_ENDPOINT": "https://me:hunter2-secret@example.test"})
    assert "hunter2-secret" not in str(info.value)
    assert "hunter2-secret" not in info.value.one_line()


def test_bad_config_file_values_and_broken_files(tmp_path: Path) -> None:
    (tmp_path / "mai_widgets_config.json").write_text(json.dumps({"MaiConfig": {"poll_factor": 0.5}}))
    with pytest.raises(ConfigError, match="poll_factor"):
        _load(dirs=[tmp_path])
    (tmp_path / "mai_widgets_config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"mai_widgets_config\.json"):
        _load(dirs=[tmp_path])
    (tmp_path / "mai_widgets_config.json").unlink()
    (tmp_path / "mai_widgets_config.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match=r"mai_widgets_config\.py"):
        _load(dirs=[tmp_path])


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a mai-widgets setting"):
        _load(sk="x")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("connect_timeout", 0),
        ("poll_initial", -1),
        ("poll_factor", 0.9),
        ("max_retries", -1),
        ("max_retries", 99),
    ],
)
def test_numeric_bounds(name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config(env={}, config_dirs=[], **{name: value})


def test_every_environment_variable_is_documented() -> None:
    for module, names in (
        (config_module, list(SETTING_ENV_VARS)),
        (credentials_module, [*CREDENTIAL_ENV_VARS.values(), CREDENTIALS_FILE_ENV]),
    ):
        doc = module.__doc__ or ""
        for var in names:
            assert f"`{var}`" in doc, var


# -- credentials --------------------------------------------------------------------------------


def test_credentials_from_env_and_repr_hides_every_value() -> None:
    creds = Credentials.from_env(SECRETS)
    assert creds.ak == SECRETS["HUAWEICLOUD_SDK_AK"]
    assert creds.sk == SECRETS["HUAWEICLOUD_SDK_SK"]
    assert creds.security_token == SECRETS["HUAWEICLOUD_SDK_SECURITY_TOKEN"]
    assert creds.token == SECRETS["MAI_WIDGETS_TOKEN"]
    assert creds.iam_password == SECRETS["MAI_WIDGETS_IAM_PASSWORD"]
    shown = repr(creds) + str(creds) + f"{creds}" + repr([creds]) + repr({"c": creds})
    for value in SECRETS.values():
        assert value not in shown
    assert "ak=<set>" in repr(creds)
    assert "token=None" in repr(Credentials())
    assert set(creds.secret_values()) == set(SECRETS.values())


def test_credentials_never_come_from_config_files(tmp_path: Path) -> None:
    (tmp_path / "mai_widgets_config.py").write_text("c.MaiConfig.sk = 'from-file'\n")
    with pytest.warns(UserWarning, match="not recognized") as warned:
        cfg = _load(dirs=[tmp_path])
    assert all("from-file" not in str(w.message) for w in warned)
    assert "from-file" not in repr(cfg)
    assert not hasattr(cfg, "sk")


def test_config_repr_shows_settings() -> None:
    text = repr(_load({"MAI_WIDGETS_REGION": "cn-east-3"}))
    assert "region='cn-east-3'" in text
    assert "verify_tls=True" in text


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]),
        ({"HUAWEICLOUD_SDK_AK": "a"}, ["HUAWEICLOUD_SDK_SK"]),
        ({"HUAWEICLOUD_SDK_SK": "s"}, ["HUAWEICLOUD_SDK_AK"]),
        ({"HUAWEICLOUD_SDK_SECURITY_TOKEN": "t"}, ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]),
        ({"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s"}, []),
        ({"MAI_WIDGETS_TOKEN": "t"}, []),
        ({"MAI_WIDGETS_IAM_PASSWORD": "p"}, ["MAI_WIDGETS_IAM_USER", "MAI_WIDGETS_IAM_DOMAIN"]),
        ({"MAI_WIDGETS_IAM_USER": "u"}, ["MAI_WIDGETS_IAM_DOMAIN", "MAI_WIDGETS_IAM_PASSWORD"]),
        (
            {"MAI_WIDGETS_IAM_USER": "u", "MAI_WIDGETS_IAM_DOMAIN": "d", "MAI_WIDGETS_IAM_PASSWORD": "p"},
            [],
        ),
    ],
)
def test_missing_settings(env: dict[str, str], missing: list[str]) -> None:
    cfg, creds = _load(env), Credentials.from_env(env)
    problem = credentials_problem(cfg, creds)
    if missing:
        assert problem is not None
        assert problem.missing == tuple(missing)
        for var in missing:
            assert var in problem.message
    else:
        assert problem is None
