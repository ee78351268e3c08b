"""The Register tab in Simplified Chinese (DummyComm widgets against the emulator over HTTP): the
form, its field messages, a registration to ACTIVE, the preflight checks and their actions, the
status view's actions, and the side panel's workbench choosing its language. Codes, enum values,
paths and ids stay as they are; what Python code reads (str(), Check.message) stays English."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from widget_support import make_client

from mai_widgets import RegisterPanel, Workbench
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.emulator.defaults import DEMO_SWR_IMAGES
from mai_widgets.errors import ValidationError
from mai_widgets.i18n import LANGUAGE_ENV
from mai_widgets.kernel.controller import RegistrationController
from mai_widgets.widgets.status import StatusView, describe_state
from mai_widgets.widgets.workbench import IMAGES_TAB, settled_notice
from mai_widgets.wire.contract import Arch, ImageStatus

REG = DEFAULTS.registry
WAIT = 30.0
ZH = "zh_CN"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path_factory.mktemp("register-zh"), init_seconds=0.2, creating_seconds=0.3) as p:
        yield p


@pytest.fixture
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process whose own locale says nothing of Chinese: only what the test chooses does."""
    for name in (LANGUAGE_ENV, "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def checked(panel: RegisterPanel) -> dict[str, str]:
    assert panel.controller.wait_preflight(WAIT)
    assert panel.controller.preflight_state == "done"
    return {check.name: check.outcome for check in panel.controller.checks}


def test_the_form_speaks_chinese_and_keeps_the_enum_values(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), language=ZH, preflight=False)
    try:
        assert panel.language == ZH
        assert "在 ModelArts 中注册自定义镜像" in panel.title.value
        assert panel.swr_path.description == "SWR 镜像地址"
        assert panel.swr_path.placeholder.startswith("registry/namespace/name:tag，或本区域 SWR")
        assert panel.arch.description == "架构"
        assert panel.arch._options_values == ("X86_64", "AARCH64") == panel.arch._options_labels
        # another language's labels explain the values; the values the request sends stay
        assert panel.visibility._options_labels == ("PRIVATE（私有）", "PUBLIC（公开）")
        assert panel.visibility._options_values == ("PRIVATE", "PUBLIC")
        assert panel.visibility.value == "PRIVATE" and panel.service_type.value == "UNKNOWN"
        assert panel.service_type._options_labels[-1] == "UNKNOWN（未知）"
        assert set(panel.resource_category.boxes) == {"CPU", "GPU", "ASCEND"}
        assert panel.register_button.description == "注册"
        assert panel.preview_button.description == "预览请求"
        assert panel.swr_picker.browse.description == "浏览 SWR"
        assert "连接到" in panel.endpoint_line.value
    finally:
        panel.close()


def test_a_failing_field_is_said_in_chinese_and_stays_english_for_python(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), language=ZH, preflight=False)
    try:
        assert "请填写SWR 镜像地址" in html.unescape(panel.reason.value)  # nothing typed yet
        panel.swr_path.value = "mai-demo/Bad Path:1"
        shown = html.unescape(panel.field_errors["swr_path"].value)
        assert "SWR 镜像地址：不能包含空格" in shown
        assert panel.register_button.disabled
        reason = html.unescape(panel.reason.value)
        assert "暂不能注册：" in reason and "请检查SWR 镜像地址" in reason
        # Python code still reads English
        assert panel.controller.problems["swr_path"] == "must not contain spaces"
        assert any(b.startswith("SWR path must not contain spaces") for b in panel.controller.blockers())

        # sent anyway (from code): the error box says it in Chinese, the code stays
        assert not panel.controller.submit()
        error = panel.controller.error
        assert isinstance(error, ValidationError)
        assert str(error) == "invalid swr_path: swr_path: must not contain spaces"
        box = html.unescape(panel.status_view.error_box.value)
        assert "invalid-request" in box and "swr_path：不能包含空格" in box and "提示：" in box

        panel.preview_button.click()
        assert panel.preview_button.description == "隐藏预览"
        assert panel.preview_text.startswith("暂无可预览的请求：swr_path 无效：swr_path：不能包含空格")
    finally:
        panel.close()


def test_a_registration_to_active_in_chinese(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), language=ZH, preflight=False, swr_path=DEMO_SWR_IMAGES[0])
    try:
        assert "尚未注册镜像。" in panel.status_view.state_line.value
        assert "就绪：点击“注册”会将此请求发送到" in html.unescape(panel.reason.value)
        panel.register_button.click()
        assert panel.controller.wait_settled(WAIT)
        record = panel.controller.record
        assert record is not None and record.status == ImageStatus.ACTIVE and record.arch == Arch.X86_64
        view = panel.status_view
        view.refresh()
        assert "镜像已注册，状态为 ACTIVE：可以使用了。" in view.state_line.value
        assert "ACTIVE" in view.badge.value
        assert "镜像 ID：" in view.record_id.value and record.id in view.record_id.value
        table = view.table.value
        for label in ("镜像版本", "架构", "资源类型", "支持服务", "创建时间"):
            assert f"<th>{label}</th>" in table
        assert "X86_64" in table and DEMO_SWR_IMAGES[0].split("/")[0] in html.unescape(table).replace(
            "<wbr>", ""
        )
        assert view.elapsed.value.endswith("秒")
        # what Python reads stays English
        assert describe_state(panel.controller) == "The image was registered and is ACTIVE: ready to use."
    finally:
        panel.close()


def test_preflight_warnings_and_failures_in_chinese(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), language=ZH, services=["SSH"])
    try:
        panel.swr_path.value = f"{REG}/mai-demo/mindspore-ascend:2.3.0-aarch64"
        assert checked(panel) == {"exists": "pass", "architecture": "warn", "registered": "pass"}
        listed = html.unescape(panel.preflight_view.list.value)
        assert "镜像在 SWR 中存在" in listed and "该镜像尚未在 ModelArts 中注册。" in listed
        assert "不是 X86_64：请选择 AARCH64，否则启动时会报 'exec format error'。" in listed
        arch = next(c for c in panel.controller.checks if c.name == "architecture")
        assert "not X86_64: choose AARCH64" in arch.message  # English for Python code
        panel.register_button.click()  # asks first
        view = panel.preflight_view
        question = html.unescape(view.question.value)
        assert view.confirm_box.layout.display == "" and question.endswith("仍然注册吗？")
        assert "不是 X86_64" in question and "。。" not in question
        assert view.confirm.description == "仍然注册" and view.cancel.description == "取消"
        assert view.use_arch.description == "使用 AARCH64"
        view.cancel.click()

        panel.swr_path.value = "mai-demo/pytorch-cpu:2.3"
        assert checked(panel)["exists"] == "fail"
        assert panel.register_button.disabled
        reason = html.unescape(panel.reason.value)
        assert "SWR 的 mai-demo/pytorch-cpu 中没有镜像版本 2.3。最接近的版本：" in reason
        assert reason.count("。") >= 1 and "。。" not in reason
        assert view.use_suggestion.description == "使用 pytorch-cpu:2.3.0"
    finally:
        panel.close()


def test_the_status_views_actions_in_chinese(emu: EmulatorProcess) -> None:
    client = make_client(emu)
    registered = client.register(swr_path=DEMO_SWR_IMAGES[1])
    assert client.wait(registered.id, timeout=WAIT).record.status == ImageStatus.ACTIVE
    view = StatusView(RegistrationController(client), actions=True, language=ZH)
    try:
        assert view.controller.follow(registered.id) and view.controller.wait_settled(WAIT)
        actions = view.actions
        assert actions is not None
        assert actions.sync_button.description == "同步" and actions.delete_button.description == "删除…"
        assert actions.copy_button.description == "复制 SWR 镜像地址"
        actions.ask_delete()
        assert (
            "从 ModelArts 删除" in actions.delete_question.value
            and registered.id in actions.delete_question.value
        )
        assert actions.force_checkbox.description == "同时从 SWR 删除镜像"
        assert "连接到" in view.endpoint_line.value
    finally:
        view.close()


def test_the_workbench_tells_the_host_in_its_language(emu: EmulatorProcess) -> None:
    bench = Workbench(make_client(emu), language=ZH, swr_path=DEMO_SWR_IMAGES[2], preflight=False)
    try:
        assert bench.language == ZH and bench.titles == ("注册", "镜像", "保存镜像")
        bench.register_panel.register_button.click()
        assert bench.register_panel.controller.wait_settled(WAIT)
        record = bench.register_panel.controller.record
        assert record is not None and record.status == ImageStatus.ACTIVE
        assert bench.notice["text"] == f"{record.name}:{record.tag} 已是 ACTIVE"
        assert bench.notice["status"] == "ACTIVE" and bench.notice["kind"] == "success"
        assert settled_notice(record)["text"] == f"{record.name}:{record.tag} is ACTIVE"
        bench.open_image = record.id
        assert bench.selected_index == IMAGES_TAB
    finally:
        bench.close()


def test_shared_follows_the_hosts_language_and_keeps_the_form(
    emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, english_locale: None
) -> None:
    for key, value in emu.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(Workbench, "_shared", None)
    chinese = Workbench.shared(host_language="zh-CN")
    try:
        assert chinese.language == ZH and chinese.titles[0] == "注册"
        chinese.register_panel.swr_path.value = DEMO_SWR_IMAGES[0]
        chinese.register_panel.arch.value = "AARCH64"
        assert Workbench.shared(host_language="zh_CN") is chinese  # a reload, same language
        english = Workbench.shared(host_language="en")  # JupyterLab switched: rebuilt
        assert english is not chinese and chinese._workbench_closed
        assert english.language == "en" and english.titles == ("Register", "Images", "Save notebook")
        assert english.register_panel.swr_path.value == DEMO_SWR_IMAGES[0]
        assert english.register_panel.arch.value == "AARCH64"
        assert english.register_panel.swr_path.description == "SWR path"
        back = Workbench.shared(host_language="zh_CN")
        assert back is not english and back.register_panel.swr_path.description == "SWR 镜像地址"
        assert back.register_panel.swr_path.value == DEMO_SWR_IMAGES[0]
    finally:
        Workbench._shared and Workbench._shared.close()


def test_the_setting_and_an_explicit_language_win_over_the_host(
    emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, english_locale: None
) -> None:
    for key, value in emu.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(Workbench, "_shared", None)
    monkeypatch.setenv(LANGUAGE_ENV, "zh_CN")
    configured = Workbench.shared(host_language="en")
    try:
        assert configured.language == ZH and configured.register_panel.register_button.description == "注册"
        monkeypatch.delenv(LANGUAGE_ENV)
        explicit = Workbench.shared(host_language="zh_CN", language="en")
        assert explicit is not configured and explicit.language == "en"
        assert explicit.register_panel.register_button.description == "Register"
        assert Workbench.shared(host_language="en") is explicit
        # without any choice, the process's locale (C here) speaks English
        plain = RegisterPanel(client=make_client(emu), preflight=False)
        assert plain.language == "en"
        plain.close()
    finally:
        Workbench._shared and Workbench._shared.close()
