"""The Images tab (ImageBrowser) and the batch view in Simplified Chinese (``language="zh_CN"``),
driven through their widgets (comm's DummyComm) against the emulator: the words are Chinese, the
status values, ids and paths stay as the service says them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from emulator_clients import fast_config
from widget_support import make_client

from mai_widgets import ImageBrowser, batch
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, DEMO_SWR_IMAGES, EmulatorProcess
from mai_widgets.i18n import translation
from mai_widgets.services.session import Session
from mai_widgets.widgets.batch_view import BatchView, entry_row_html
from mai_widgets.widgets.browser import PAGE_SIZE, row_html
from mai_widgets.wire.contract import ImageStatus

WAIT = 30.0
MISSING = f"{DEFAULTS.registry}/mai-images-zh/never-pushed:1.0"


@pytest.fixture
def chinese(emulator: EmulatorProcess) -> Iterator[ImageBrowser]:
    browser = ImageBrowser(make_client(emulator), language="zh_CN")
    yield browser
    browser.close()


def labels(dropdown: object) -> list[str]:
    return [label for label, _ in dropdown.options]  # type: ignore[attr-defined]


def values(dropdown: object) -> list[object]:
    return [value for _, value in dropdown.options]  # type: ignore[attr-defined]


def test_the_toolbar_and_an_empty_list_speak_chinese_and_keep_the_api_values(chinese: ImageBrowser) -> None:
    browser = chinese
    assert browser.wait_idle(WAIT) and browser.empty
    assert browser.type_dropdown.description == "显示" and browser.name_text.description == "名称"
    assert browser.name_text.placeholder == "按名称筛选"
    assert labels(browser.type_dropdown) == ["我的镜像", "预置镜像", "全部：我的镜像，然后是预置镜像"]
    assert values(browser.type_dropdown) == ["DEDICATED", "BUILD_IN", "ALL"]
    assert browser.sort_dropdown.description == "排序方式"
    assert labels(browser.sort_dropdown) == ["创建时间", "更新时间", "名称", "状态", "大小"]
    assert values(browser.sort_dropdown) == ["createTime", "updateTime", "name", "status", "size"]
    assert labels(browser.dir_dropdown) == ["降序", "升序"] and values(browser.dir_dropdown) == [
        "DESC",
        "ASC",
    ]
    status_labels = labels(browser.status_dropdown)
    assert status_labels[:3] == ["任意状态", "进行中（INIT, CREATING）", "ACTIVE"]
    assert "失败（CREATE_FAILED, ERROR）" in status_labels and "CREATE_FAILED" in status_labels
    assert ("INIT", "CREATING") in values(browser.status_dropdown)
    assert browser.refresh_button.description == "刷新"
    assert browser.register_button.description == "注册镜像"
    assert browser.presets_button.description == "显示预置镜像"
    assert browser.more_button.description == f"再加载 {PAGE_SIZE} 个"
    # on its own (%list_images), the list names where to register: the magic's name stays
    summary = browser.summary.value
    assert summary.startswith("您还没有镜像：") and "<code>%register_image</code>" in summary
    assert "ModelArts" in summary and "no images" not in summary
    browser.presets_button.click()
    assert browser.wait_idle(WAIT) and browser.type == "BUILD_IN" and browser.records
    count = len(browser.records)
    assert f"已加载{count} 个预置镜像中的 {count} 个。" in browser.summary.value


def test_rows_filters_and_a_delete_in_chinese(emulator: EmulatorProcess, chinese: ImageBrowser) -> None:
    client = make_client(emulator)
    keep = client.register(swr_path=DEMO_SWR_IMAGES[1])
    doomed = client.register(swr_path=DEMO_SWR_IMAGES[0])
    failed = client.register(swr_path=MISSING)
    for record in (keep, doomed, failed):
        client.wait(record.id, timeout=WAIT)
    browser = chinese
    browser.refresh()
    assert browser.wait_idle(WAIT) and len(browser.records) == 3
    assert "已加载您的 3 个镜像中的 3 个。" in browser.summary.value
    row = next(r for r in browser.rows if r.image_id == keep.id)
    assert row.button.tooltip == f"查看 {DEMO_SWR_IMAGES[1]}"  # the path as it is
    info = row.info.value
    assert "title='大小'" in info and "创建于 " in info and "更新于 " in info
    assert "mai-badge-active" in info and ">ACTIVE<" in info  # the status value stays English
    assert ">created " not in info and "title='Size'" not in info

    # the status filter runs on the loaded rows; its values are the API's
    browser.status_dropdown.value = ("CREATE_FAILED", "ERROR")
    assert [r.id for r in browser.visible_records] == [failed.id]
    assert browser.summary.value.startswith("显示 1 个 CREATE_FAILED 或 ERROR 镜像。已加载")
    browser.status_dropdown.value = ()

    # a name filter: the API's fuzzy match
    name = str(doomed.name)
    browser.name_text.value = name
    browser.refresh()
    assert browser.wait_idle(WAIT)
    assert f"与“{name}”匹配的" in browser.summary.value

    browser.name_text.value = ""
    browser.refresh()
    assert browser.wait_idle(WAIT) and len(browser.records) == 3
    view = browser.select(doomed.id)
    assert view is not None and view.actions is not None and view.controller.wait_settled(WAIT)
    view.actions.delete_button.click()
    view.actions.delete_confirm_button.click()
    assert browser.wait_idle(WAIT)
    assert view.controller.record is not None and view.controller.record.status == ImageStatus.DELETED
    assert sorted(r.id for r in browser.records) == sorted([keep.id, failed.id])
    assert "已加载您的 2 个镜像中的 2 个。" in browser.summary.value


def test_row_html_is_english_unless_told(emulator: EmulatorProcess) -> None:
    record = make_client(emulator).register(swr_path=DEMO_SWR_IMAGES[2])
    english, chinese = row_html(record), row_html(record, translation("zh_CN"))
    assert "title='Size'" in english and "created " in english
    assert "title='大小'" in chinese and "创建于 " in chinese
    assert str(record.arch) in chinese and str(record.status) in chinese


def test_a_batch_apply_and_plan_in_chinese(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    emu = emulator_factory()
    env = emu.env()
    session = Session(fast_config(env), Credentials.from_env(env))
    paths = [*DEMO_SWR_IMAGES[5:8], MISSING]
    file = batch.BatchFile.of([{"swr_path": p} for p in paths], defaults={"arch": "X86_64"})
    try:
        view = BatchView("apply", len(paths), source="images.yaml", language="zh_CN")
        assert view.title.value == "<b>正在注册 4 个镜像</b>，来自 <code>images.<wbr>yaml</code>"
        result = batch.apply(file, session=session, on_event=view.update)
        view.finish(result)
        view.flush()
        rows = view.rows.value
        assert rows.count("mai-batch-row") == len(paths)
        assert ">可用<" in rows and ">失败<" in rows  # the batch's states, translated
        assert "CREATE_FAILED" in rows and "mai-badge-active" in rows  # the image status stays
        summary = view.summary.value
        assert summary.startswith("<b>未全部符合镜像清单文件的要求：</b>")
        assert "可用 3 个" in summary and "失败 1 个" in summary and "已发送 4 个注册请求" in summary
        view.stopping()
        view.flush()
        assert view.note.value.startswith("已中断：")
        view.close()

        planned = batch.plan(file, session=session, preflight=False)
        plan_view = BatchView("plan", len(paths), language="zh_CN")
        assert plan_view.title.value == "<b>正在计划 4 个镜像</b>"
        plan_view.finish(planned)
        plan_view.flush()
        assert ">相同<" in plan_view.rows.value and "秒）" in plan_view.summary.value
        plan_view.close()
        # without a language, a row is English
        assert result.entries[0].state == "active" and ">active<" in entry_row_html(result.entries[0])
    finally:
        session.close()
