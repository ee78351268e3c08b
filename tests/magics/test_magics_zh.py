"""The magics in 简体中文 (``MAI_WIDGETS_LANGUAGE=zh_CN``) on a real IPython shell against the
emulator: their printed lines, ``UsageError`` and failure blocks are Chinese, while error codes,
HTTP statuses, request ids, paths, statuses and what Python code reads (``str(exc)``) stay English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from test_register_image import (
    FORBIDDEN_PATH,
    PATH,
    _clean_env,
    assert_no_secret,
    image_count,
    run,
    run_failing,
    shown_text,
)

from mai_widgets import batch
from mai_widgets.emulator import DEMO_SWR_IMAGES, EmulatorProcess
from mai_widgets.errors import ApiError, BatchFileError, ClientTransportError, ConfigError
from mai_widgets.i18n import Msg
from mai_widgets.magics.register import RegisterImageError, RegisterImageMagics
from mai_widgets.magics.register_images import RegisterImagesError, RegisterImagesMagics
from mai_widgets.magics.save_image import SaveImageMagics
from mai_widgets.wire.contract import ImageRecord, ImageStatus

PATHS = DEMO_SWR_IMAGES[8:10]


@pytest.fixture
def zh(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> EmulatorProcess:
    """The shell points at the emulator and speaks Chinese (the locale says English)."""
    _clean_env(monkeypatch, tmp_path)
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # the explicit setting wins over the locale
    monkeypatch.setenv("MAI_WIDGETS_LANGUAGE", "zh_CN")
    return emulator


@pytest.fixture
def register(shell: InteractiveShell) -> Iterator[RegisterImageMagics]:
    instance = shell.magics_manager.registry["RegisterImageMagics"]
    assert isinstance(instance, RegisterImageMagics)
    instance.use_widgets = False
    yield instance
    instance.use_widgets = None


@pytest.fixture
def register_many(shell: InteractiveShell) -> Iterator[RegisterImagesMagics]:
    instance = shell.magics_manager.registry["RegisterImagesMagics"]
    assert isinstance(instance, RegisterImagesMagics)
    instance.use_widgets = False
    yield instance
    instance.use_widgets = None


def test_registering_prints_chinese_progress_and_keeps_the_status_english(
    shell: InteractiveShell, register: RegisterImageMagics, zh: EmulatorProcess
) -> None:
    record, captured = run(shell, f"%register_image {PATH} --arch X86_64 --no-preflight")
    assert isinstance(record, ImageRecord) and record.status == ImageStatus.ACTIVE
    first = captured.stdout.splitlines()[0]
    assert first.startswith("已在 本地 ModelArts 模拟器 ") and zh.url in first
    assert f" 注册镜像 {record.id}（{PATH}）：" in first
    assert f"{record.id}: ACTIVE" in captured.stdout  # statuses and ids as ModelArts says them
    assert_no_secret(zh, shown_text(captured))

    # The same path again: ModelArts returns the existing image, said in Chinese.
    again, captured = run(shell, f"%register_image {PATH} --arch X86_64 --no-preflight")
    assert again.id == record.id
    assert "此前已注册：返回已有镜像" in captured.stdout
    assert f"{PATH} 此前已注册（镜像 {record.id}，ACTIVE）" in captured.stdout
    assert "它与本次请求一致。" in captured.stdout


def test_a_bad_argument_is_a_chinese_usage_error_naming_the_flag(
    shell: InteractiveShell, register: RegisterImageMagics, zh: EmulatorProcess
) -> None:
    cases = {
        f"%register_image {PATH} --panel --dry-run": "%register_image: --panel 打开表单，不能与 --dry-run 同时使用",
        f"%register_image {PATH} --arhc X86_64": "%register_image: 未知参数 --arhc（您是否要使用 --arch？）",
        f"%register_image {PATH} --arch": "%register_image: --arch 需要一个值：X86_64, AARCH64 之一",
        "%register_image --dry-run": "%register_image: 使用 --dry-run 时必须指定 SWR_PATH：",
    }
    for line, expected in cases.items():
        error, captured = run_failing(shell, line)
        assert isinstance(error, UsageError), line
        assert str(error).startswith(expected), (line, str(error))
        assert "\n" not in str(error) and "Traceback" not in shown_text(captured)
    assert image_count(zh) == 0

    error, _ = run_failing(shell, '%register_images "images.yaml')
    assert isinstance(error, UsageError) and "无法拆分参数" in str(error) and "请检查引号" in str(error)
    error, _ = run_failing(shell, "%save_image my-image: --no-wait")
    assert isinstance(error, UsageError)
    assert str(error) == "%save_image: 'my-image:' 中的 TAG 为空：请指定 NAME:TAG，或只指定 NAME"
    error, _ = run_failing(shell, '%list_images --name "abc')
    assert isinstance(error, UsageError) and str(error).startswith("%list_images: 无法拆分参数（")


def test_an_api_error_block_keeps_code_status_and_request_id_and_says_the_hint_in_chinese(
    shell: InteractiveShell, register: RegisterImageMagics, zh: EmulatorProcess
) -> None:
    error, captured = run_failing(shell, f"%register_image {FORBIDDEN_PATH} --no-preflight")
    assert isinstance(error, RegisterImageError) and isinstance(error.error, ApiError)
    lines = shown_text(captured).strip().splitlines()
    assert lines[0] == "%register_image 失败：permission-denied · HTTP 400 · ModelArts.2885"
    assert f"  请求 ID：{error.error.request_id}" in lines
    assert (
        "  提示：ModelArts 无权访问该 SWR 组织：请在 SWR 中授权（组织管理 > 权限管理），或将镜像推送到您自己的组织"
        in lines
    )
    assert "Traceback" not in shown_text(captured)
    # What Python code reads stays English: the typed error, its hint and its one line.
    api = error.error
    assert str(api).startswith("ModelArts.2885: ") and api.hint is not None
    assert api.hint.startswith("ModelArts has no access to that SWR organization")
    assert api.one_line().endswith(f"[request id {api.request_id}]") and "提示" not in api.one_line()


def test_missing_credentials_and_an_unreachable_endpoint_say_the_hint_in_chinese(
    shell: InteractiveShell,
    register: RegisterImageMagics,
    zh: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    closed_loopback_url: str,
) -> None:
    monkeypatch.delenv("HUAWEICLOUD_SDK_SK")
    error, captured = run_failing(shell, f"%register_image {PATH}")
    assert isinstance(error, RegisterImageError) and isinstance(error.error, ConfigError)
    text = shown_text(captured)
    assert text.startswith("%register_image 失败：config") and "HUAWEICLOUD_SDK_SK" in text
    assert "提示：请在 Jupyter 服务器或内核的环境变量中设置" in text
    assert error.error.hint is not None and error.error.hint.startswith("set them in the environment")
    assert_no_secret(zh, text)

    # A hint made with a setting's name (a Msg): translated where shown, the name kept.
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", zh.sk)
    for name in zh.env():
        if name.endswith("_ENDPOINT") and "METADATA" not in name:
            monkeypatch.setenv(name, closed_loopback_url)
    error, captured = run_failing(shell, f"%register_image {PATH} --no-preflight")
    assert isinstance(error, RegisterImageError) and isinstance(error.error, ClientTransportError)
    hint = error.error.hint
    assert isinstance(hint, Msg) and hint.endswith("(is the emulator or proxy running?)")
    setting = hint.params["setting"]
    text = shown_text(captured)
    assert text.startswith("%register_image 失败：transport")
    assert f"提示：请检查 {setting}（模拟器或代理是否正在运行？）" in text
    assert str(error.error).startswith("connection refused by ")  # the message stays English


def test_register_images_plans_and_applies_in_chinese(
    shell: InteractiveShell, register_many: RegisterImagesMagics, zh: EmulatorProcess, tmp_path: Path
) -> None:
    file = tmp_path / "images.yaml"
    file.write_text(
        "defaults:\n  arch: X86_64\nimages:\n" + "".join(f"  - swr_path: {p}\n" for p in PATHS),
        encoding="utf-8",
    )
    planned, captured = run(shell, f"%register_images {file} --plan")
    assert isinstance(planned, batch.Plan) and planned.counts()["new"] == 2
    assert "SWR 镜像地址" in captured.stdout and "计划" in captured.stdout  # the table's header
    assert f"{PATHS[0]}: 新增" in captured.stdout
    assert "2 个镜像：新增 2 个（" in captured.stdout
    assert planned.to_json()["entries"][0]["state"] == "new"  # what code reads stays English

    result, captured = run(shell, f"%register_images {file}")
    assert isinstance(result, batch.ApplyResult) and result.ok
    assert "已发送 2 个注册请求" in captured.stdout and "可用 2 个" in captured.stdout
    assert all(e.state == "active" for e in result.entries)

    # A bad file: one line, the code and the message English, the hint Chinese.
    file.write_text("images:\n  - swr_path: my-org/a:1\n    arh: X86_64\n", encoding="utf-8")
    error, _ = run_failing(shell, f"%register_images {file}")
    assert isinstance(error, UsageError)
    assert str(error).startswith("%register_images: invalid-file: ")
    assert "unknown key 'arh' (did you mean 'arch'?)" in str(error)
    assert str(error).endswith("（请修正文件后重新运行）")
    with pytest.raises(BatchFileError) as raised:
        batch.load(file)
    assert str(raised.value).endswith("unknown key 'arh' (did you mean 'arch'?)")
    assert raised.value.hint == "correct the file and run again"


def test_a_run_that_fails_is_a_chinese_block_with_english_values(
    shell: InteractiveShell, register_many: RegisterImagesMagics, zh: EmulatorProcess, tmp_path: Path
) -> None:
    file = tmp_path / "images.yaml"
    file.write_text(f"images:\n  - swr_path: {FORBIDDEN_PATH}\n    arch: X86_64\n", encoding="utf-8")
    error, captured = run_failing(shell, f"%register_images {file}")
    assert isinstance(error, RegisterImagesError) and isinstance(error.result, batch.ApplyResult)
    text = shown_text(captured)
    assert "%register_images 失败：1 个镜像中有 1 个最终未变为 ACTIVE" in text
    assert f"1. {FORBIDDEN_PATH}: 失败（permission-denied: ModelArts.2885: " in text
    assert "提示：按每行所述修正后重新运行此单元格" in text
    entry = error.result.entries[0]
    assert entry.state == "failed" and entry.message().startswith("permission-denied: ModelArts.2885")


def test_save_image_usage_in_chinese(
    shell: InteractiveShell, zh: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    magics = shell.magics_manager.registry["SaveImageMagics"]
    assert isinstance(magics, SaveImageMagics)
    magics.use_widgets = False
    try:
        error, _ = run_failing(shell, "%save_image --dry-run --no-wait")
        assert isinstance(error, UsageError)
        assert str(error) == "%save_image: --dry-run 不发送任何请求，不能与 --no-wait 同时使用"
    finally:
        magics.use_widgets = None


def test_english_stays_the_default(
    shell: InteractiveShell,
    register: RegisterImageMagics,
    zh: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAI_WIDGETS_LANGUAGE")
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    error, _ = run_failing(shell, f"%register_image {PATH} --panel --dry-run")
    assert str(error) == "%register_image: --panel opens the form; it cannot be combined with --dry-run"
