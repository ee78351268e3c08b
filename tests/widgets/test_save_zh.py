"""The "Save notebook" tab (SaveNotebookView) in Simplified Chinese, driven through its widgets
(comm's DummyComm) against the emulator: the words are Chinese; states, paths and the English
texts Python code reads (the controller's problems, ``str()`` of a message) are unchanged."""

from __future__ import annotations

from collections.abc import Callable

from widget_support import make_client

from mai_widgets.emulator.defaults import DEFAULTS, notebook_id_for
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.i18n import Msg, translation
from mai_widgets.kernel.save import not_kept_text
from mai_widgets.widgets.save_tab import SaveNotebookView
from mai_widgets.wire.contract import ImageStatus
from mai_widgets.wire.notebooks import validate_save_fields

WAIT = 30.0
DEMO_ID = notebook_id_for(DEFAULTS.project_id, DEFAULTS.demo_notebook)


def test_the_form_speaks_chinese(emulator: EmulatorProcess) -> None:
    view = SaveNotebookView(make_client(emulator), language="zh_CN")
    try:
        assert view.wait_idle(WAIT)
        assert "将此 Notebook 保存为镜像" in view.title.value
        assert [w.description for w in view.inputs.values()] == [
            "Notebook 实例",
            "组织",
            "名称",
            "镜像版本",
            "描述",
        ]
        assert view.organization.placeholder == "您有写权限的 SWR 组织"
        assert view.description.placeholder == "可选，最多 512 个字符"
        assert view.save_button.description == "保存"
        assert view.instance.value == DEMO_ID and view.instance.label.endswith(" · 当前实例")
        assert "此内核运行在 mai-demo-notebook 中。" in view.listing.value
        not_kept = view.not_kept.value
        assert (
            "镜像中不包含" in not_kept and "/home/ma-user/work" in not_kept and "（SNAPSHOTTING）" in not_kept
        )
        assert "就绪：点击“保存”会将此请求发送到" in view.reason.value
    finally:
        view.close()


def test_field_messages_and_why_save_is_disabled_in_chinese(emulator: EmulatorProcess) -> None:
    view = SaveNotebookView(make_client(emulator), language="zh_CN")
    try:
        assert view.wait_idle(WAIT)
        view.name.value = "-Bad Name"
        message = view.field_errors["name"].value
        assert "名称：只能包含小写字母、数字、&#x27;-&#x27;、&#x27;_&#x27; 和 &#x27;.&#x27;" in message
        assert "名称：必须以小写字母或数字开头" in message
        assert view.save_button.disabled and "无法保存：请检查名称。" in view.reason.value
        # what Python code reads stays English
        problems = view.controller.problems["name"]
        assert "may contain only lower-case letters, digits, '-', '_' and '.'" in problems
        assert any(b.startswith("Name may contain only") for b in view.controller.blockers())
        view.organization.value = "mai-shared"  # readable, not writable
        assert "组织：对当前凭证只读" in view.field_errors["namespace"].value
        view.tag.value = "x" * 200
        assert "镜像版本：最多 64 个字符（当前 200 个）" in view.field_errors["tag"].value
        view.name.value = "good-name"
        view.organization.value = "mai-demo"
        view.tag.value = ""
        assert not view.save_button.disabled and "就绪：" in view.reason.value
    finally:
        view.close()


def test_a_save_to_active_says_both_states_in_chinese(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(snapshot_seconds=1.5)
    view = SaveNotebookView(make_client(emu), language="zh_CN")
    try:
        assert view.wait_idle(WAIT)
        view.name.value = "my-env-zh"
        seen: list[str] = []
        view.notebook_state.observe(lambda c: seen.append(c["new"]), names="value")
        view.save_button.click()
        assert view.controller.wait_settled(WAIT)
        c = view.controller
        assert c.state == "settled" and c.error is None
        assert c.record is not None and c.record.status == ImageStatus.ACTIVE
        image_line = view.image_state.value
        assert image_line.startswith("镜像 <b>") and "CREATING → ACTIVE" in image_line
        notebook_line = view.notebook_state.value
        assert notebook_line.startswith("Notebook 实例 <b>mai-demo-notebook</b>：")
        assert "SNAPSHOTTING → RUNNING" in notebook_line and "（已恢复可用）" in notebook_line
        assert any("（保存期间不可用）" in s for s in seen)
        assert "Image" not in image_line and "Instance" not in notebook_line
    finally:
        view.close()


def test_messages_made_below_the_widgets_are_english_strs_translated_where_shown() -> None:
    text = not_kept_text()
    assert isinstance(text, Msg) and text.startswith(
        "Not kept in the image: the instance's mounted storage ("
    )
    zh = translation("zh_CN")
    assert zh.text(text).startswith("镜像中不包含：实例挂载的存储（/home/ma-user/work")
    (problem,) = [p for p in validate_save_fields({"name": "ok", "namespace": "ok", "tag": "t" * 200})]
    assert str(problem) == "tag: must be at most 64 characters (it has 200)"
    assert zh.text(problem.message) == "最多 64 个字符（当前 200 个）"
