"""Write the example notebooks from the stories below: ``python notebooks/generate.py``.

The committed ``.ipynb`` files are this script's output: no outputs, no execution counts,
no widget state, stable cell ids. ``tests/test_notebooks.py`` checks they still match and
executes each one against a local ModelArts emulator.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

HERE = Path(__file__).resolve().parent

# The emulator's demo SWR catalogue (mai_widgets/emulator/defaults.py): these reach ACTIVE.
# Each example registers images no other example suggests (the README's side-panel example
# is pytorch-cpu), so trying one never turns another into "already registered".
SWR = "swr.cn-north-4.myhuaweicloud.com"
PANEL_IMAGE = f"{SWR}/mai-demo/xgboost:2.1.1"
MAGIC_IMAGE = f"{SWR}/mai-demo/tensorflow:2.15.0"
MAGIC_NO_WAIT_IMAGE = f"{SWR}/mai-demo/sklearn:1.5.0"
MAGIC_FORM_IMAGE = f"{SWR}/mai-demo/paddlepaddle:2.6.1"
SCRIPT_IMAGE = f"{SWR}/mai-demo/pytorch-cuda:2.3.0-cuda12.1"

ALREADY_REGISTERED = """\
If this SWR image was registered before (from the side panel, or an earlier run of this
notebook), ModelArts does not register it again: it returns the existing image, unchanged.
The last line then says so and names every setting in which that image differs from this
request."""

RUN_ELSEWHERE = """\
**Where this runs.** By default `make demo` starts a local ModelArts emulator and a JupyterLab
whose kernels point at it, so this notebook runs with no cloud account: nothing here touches
Huawei Cloud. To run it against the real ModelArts instead, start JupyterLab with your region
and credentials in the environment (never in the notebook):

```bash
export MAI_WIDGETS_REGION=cn-north-4
export HUAWEICLOUD_SDK_AK=...   # access key
export HUAWEICLOUD_SDK_SK=...   # secret key
jupyter lab
```"""
SETUP = (
    RUN_ELSEWHERE
    + """

and replace the `swr.cn-north-4.myhuaweicloud.com/mai-demo/...` paths with images you pushed to
your own SWR organization. The README lists every setting."""
)


def md(text: str) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(text)


def code(text: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(text)


def failing_code(text: str) -> NotebookNode:
    """A cell that shows a failure: tagged so "Run all" (and nbclient) carries on past it."""
    cell = nbformat.v4.new_code_cell(text)
    cell.metadata["tags"] = ["raises-exception"]
    return cell


PANEL = [
    md(
        "# Register an image with the panel\n\n"
        "The registration panel is a form over the ModelArts *register image* API: it checks each\n"
        "field as you type, says which endpoint it talks to, registers, and then follows the image\n"
        "from `INIT` through `CREATING` to `ACTIVE`.\n\n" + SETUP
    ),
    code("from mai_widgets import RegisterPanel\n\npanel = RegisterPanel()\npanel"),
    md(
        "Fill in the SWR path (try `" + PANEL_IMAGE + "`), pick the\n"
        "architecture and resource categories, and press **Register**. A field with a problem is\n"
        "named right under it, and **Register** stays off until the form is valid.\n\n"
        "So that this notebook also runs unattended, the next cells do from code exactly what you\n"
        "would do by hand: open a panel filled in, then press its button. **Register** first waits\n"
        "for the checklist under the path (does the image exist in SWR, for this architecture, is it\n"
        "registered already); where a check warns, the panel asks once, and the cell answers\n"
        "**Register anyway**, as you would after reading it."
    ),
    code(
        "panel = RegisterPanel(\n"
        f'    swr_path="{PANEL_IMAGE}",\n'
        '    arch="X86_64",\n'
        '    resource_category=["CPU"],\n'
        '    services=["NOTEBOOK", "SSH"],\n'
        '    description="XGBoost 2.1 for CPU notebooks",\n'
        ")\n"
        "panel"
    ),
    code(
        "panel.register_button.click()\n"
        "panel.controller.wait_settled(timeout=120)\n"
        "if panel.controller.needs_confirmation():  # a check warned: the panel asks once\n"
        '    print(*(c.message for c in panel.controller.preflight_warnings()), sep="\\n")\n'
        "    panel.preflight_view.confirm.click()  # Register anyway\n"
        "    panel.controller.wait_settled(timeout=120)"
    ),
    md(
        "The status view inside the panel now shows the image `ACTIVE`. The controller behind the\n"
        "panel holds the image record, the same object the Python API returns.\n\n" + ALREADY_REGISTERED
    ),
    code(
        "from mai_widgets.magics.register import already_registered_report\n\n"
        "record = panel.controller.record\n"
        "print(record.id, record.status)\n"
        "print(record.swr_path)\n"
        'print(record.arch, ", ".join(record.resource_categories), ", ".join(record.services))\n'
        'print(already_registered_report(record, panel.controller.request) or "Registered by this notebook.")'
    ),
    md(
        "## A bad path is caught before anything is sent\n\n"
        "Validation runs in the kernel on every change, so a mistake is named at once and\n"
        "nothing reaches ModelArts. This path lacks the SWR organization:"
    ),
    code(f'panel = RegisterPanel(swr_path="{SWR}/pytorch:latest")\nprint(panel.controller.problems)\npanel'),
    md(
        "## Watching an image registered elsewhere\n\n"
        "`StatusView.for_image` follows any image by id, for example one registered from a script:"
    ),
    code("from mai_widgets import StatusView\n\nStatusView.for_image(record.id)"),
]

MAGIC = [
    md(
        "# Register an image with `%register_image`\n\n"
        "One line registers an SWR image and follows it until it is usable. The flags follow\n"
        "Huawei's `ma-cli image register`, short forms included (`-swr`, `-a`, `-rs`, `-s`, `-v`, `-wi`).\n\n"
        'Like IPython\'s own magics, a failure fails the cell, so "Run all" stops there instead of\n'
        "carrying on with no image. The cells below that show a failure are tagged\n"
        "`raises-exception`, so this notebook still runs to the end.\n\n" + SETUP
    ),
    code("%load_ext mai_widgets"),
    md(
        "## Look before you leap: `--dry-run`\n\n"
        "A dry run validates the arguments and shows the exact request, plus the same call written\n"
        "with the Python API and with curl. Nothing is sent, and credentials appear only as\n"
        "environment-variable names."
    ),
    code(
        f"%register_image {MAGIC_IMAGE} --arch X86_64 --resource-category CPU GPU "
        '--service NOTEBOOK SSH --description "TensorFlow 2.15, CPU and GPU" --dry-run'
    ),
    md(
        "## A mistake fails the cell with one line, not a traceback\n\n"
        "`ARM64` is not a ModelArts architecture. The magic fails the cell with one `UsageError`\n"
        "line naming the argument and the values it accepts; nothing is sent:"
    ),
    failing_code(f"%register_image {MAGIC_IMAGE} --arch ARM64"),
    md(
        "## Register and follow\n\n"
        "Without `--dry-run` the magic registers the image and shows a live status view until the\n"
        "image is `ACTIVE`. It also returns the image record, so it works in scripts. A path without\n"
        "a registry (`mai-demo/tensorflow:2.15.0`) gets the region's SWR host, as in `ma-cli`.\n\n"
        "If the image was registered before, the magic says so under the view and names what\n"
        "differs from this request. If it ends in anything but `ACTIVE`, the cell fails."
    ),
    code(
        "record = %register_image mai-demo/tensorflow:2.15.0 -a X86_64 -rs CPU GPU -s NOTEBOOK SSH "
        '--description "TensorFlow 2.15, CPU and GPU" --timeout 120'
    ),
    code("print(record.id, record.status)"),
    md(
        "`--no-wait` registers and returns at once; the status view keeps following the image in\n"
        "the background while you carry on:"
    ),
    code(f"later = %register_image {MAGIC_NO_WAIT_IMAGE} --resource-category CPU --no-wait"),
    md(
        "## When ModelArts says no\n\n"
        "An API error shows in the status view with its code, message and a hint about what to do,\n"
        "and the cell fails with the same facts in one block (code, message, request id, hint).\n"
        "Here the demo user has no access to the SWR organization `someone-else`:"
    ),
    failing_code(f"%register_image {SWR}/someone-else/private-model:1.0"),
    md(
        "## Prefer a form? `--panel`\n\n"
        "`--panel` opens the registration panel filled in from the arguments, to review and submit\n"
        "by hand; `%register_image` with no arguments opens an empty one."
    ),
    code(f"%register_image {MAGIC_FORM_IMAGE} --arch X86_64 --resource-category GPU --panel"),
    md(
        "## Load it in every kernel\n\n"
        "Loading the magic is opt-in. To have it in every new kernel, add this line to\n"
        "`~/.ipython/profile_default/ipython_kernel_config.py`:\n\n"
        "```python\nc.InteractiveShellApp.extensions = ['mai_widgets']\n```\n\n"
        "`%register_image?` shows every flag."
    ),
]

SCRIPT = [
    md(
        "# The Python API, for scripts\n\n"
        "Everything the panel and the magic do is a plain Python call on `ImageClient`: register,\n"
        "wait, list and delete. Nothing here needs widgets, so the same code runs in a scheduled\n"
        "job or a CI pipeline.\n\n" + SETUP
    ),
    code(
        "from mai_widgets.services.images import ImageClient\n\n"
        "client = ImageClient()  # reads Jupyter config files and the environment\n"
        "client.endpoint_description"
    ),
    md(
        "## Register\n\n"
        "`register` validates first (every bad field named at once), then sends one request. The\n"
        "record comes back in `INIT`; ModelArts builds the image asynchronously.\n\n" + ALREADY_REGISTERED
    ),
    code(
        "from mai_widgets.wire.contract import RegisterRequest\n"
        "from mai_widgets.magics.register import already_registered_report\n\n"
        "request = RegisterRequest.create(\n"
        f'    swr_path="{SCRIPT_IMAGE}",\n'
        '    arch="X86_64",\n'
        '    resource_category=["GPU"],\n'
        '    services=["NOTEBOOK", "SSH"],\n'
        '    description="PyTorch 2.3 with CUDA 12.1",\n'
        ")\n"
        "record = client.register(request)\n"
        "print(record.id, record.status)\n"
        'print(already_registered_report(record, request) or "Registered by this script.")'
    ),
    md(
        "## Wait\n\n"
        "`wait` polls, quickly at first and then backing off, until the image reaches a terminal\n"
        "status or the timeout passes. `on_update` sees every change:"
    ),
    code(
        "result = client.wait(record.id, timeout=120, on_update=lambda r: print('  status:', r.status))\n"
        "print(result.outcome, result.record.status)"
    ),
    md(
        "## Errors are typed\n\n"
        "Each error has a code, a one-line message and a hint. A validation error names every bad\n"
        "field, and nothing is sent:"
    ),
    code(
        "from mai_widgets.errors import MaiWidgetsError\n\n"
        "try:\n"
        f'    client.register(swr_path="{SCRIPT_IMAGE}", arch="ARM64", '
        'resource_category=["TPU"])\n'
        "except MaiWidgetsError as error:\n"
        "    print(error.one_line())"
    ),
    md(
        "Registering the same SWR image again is not an error: the existing record comes back,\n"
        "marked as such, so a re-run script is safe."
    ),
    code("again = client.register(request)\nprint(again.id == record.id, again.already_registered)"),
    md("## List\n\n`list` handles paging and takes the API's filters:"),
    code(
        'for image in client.list(name="pytorch-cuda"):\n'
        "    print(image.id, image.name, image.tag, image.status)"
    ),
    md(
        "## Delete\n\nDeleting unregisters the image from ModelArts (the SWR image itself stays).\n"
        "The script deletes only an image it registered itself:"
    ),
    code(
        "if record.already_registered:\n"
        '    print("kept", record.id, "(registered before this script ran)")\n'
        "else:\n"
        "    client.delete(record.id)\n"
        '    remaining = [image.id for image in client.list(name="pytorch-cuda")]\n'
        "    print(record.id in remaining)"
    ),
]


# -- 04: manage your images (the Images tab's browser) ------------------------------------

MANAGE = [
    md(
        "# Manage your images\n\n"
        "Once images are registered you want to see them, follow the ones still building, and\n"
        "clean up. `ImageBrowser` (the **Images** tab of the side panel) and `%list_images` do\n"
        "that: they list your own images a page (200) at a time, filter by name and status, sort,\n"
        "and show the selected image's live status with its actions.\n\n" + SETUP
    ),
    code("from mai_widgets import ImageBrowser\n\nbrowser = ImageBrowser()\nbrowser"),
    md(
        "Type in **Name** to filter (the API's fuzzy name match, sent once you pause typing);\n"
        "**Status** keeps only the loaded rows with that status; **Sort by** is the API's.\n"
        "**Show** switches to the service's presets, or to both. **Load 200 more** asks for the\n"
        "next page: a project with 10,000 images opens as fast as one with ten.\n\n"
        "## An image that fails\n\n"
        "This SWR path was never pushed, so ModelArts accepts the registration and then ends it\n"
        "`CREATE_FAILED`, saying why:"
    ),
    code(
        "from mai_widgets.services.images import ImageClient\n\n"
        "client = ImageClient()\n"
        "failed = client.register(\n"
        f'    swr_path="{SWR}/mai-demo/not-pushed-yet:1.0",\n'
        '    arch="X86_64",\n'
        '    resource_category=["CPU"],\n'
        '    description="pushed later",\n'
        ")\n"
        "result = client.wait(failed.id, timeout=120)\n"
        'print(result.record.status, "-", result.record.status_message)'
    ),
    md(
        "## `%list_images`\n\n"
        "The magic shows the same browser and returns the records it shows (the first page, with\n"
        "the status filter applied), so a script can use them:"
    ),
    code(
        "%load_ext mai_widgets\n"
        "failed_images = %list_images --status CREATE_FAILED ERROR\n"
        "[(image.name, image.tag, str(image.status)) for image in failed_images]"
    ),
    md(
        "## Follow it, and register it again\n\n"
        "Selecting a row shows the image's status view, live while the image is still building,\n"
        "with **Sync**, **Delete…**, **Copy SWR path** and, for a failed image, **Register\n"
        "again…**. The next cell selects the failed image from code, as a click on its row would:"
    ),
    code(
        "browser.refresh()\n"
        "browser.wait_idle(60)\n"
        "view = browser.select(failed.id)\n"
        "view.controller.wait_settled(60)\n"
        "print(view.controller.record.status)"
    ),
    md(
        "After you push the missing image to SWR, **Register again…** deletes the failed record\n"
        "and registers the same fields (path, architecture, resources, services, description),\n"
        "after one confirmation. Here the path is still not pushed, so the new registration fails\n"
        "the same way; with the image pushed it would reach `ACTIVE`."
    ),
    code(
        "actions = view.actions\n"
        "actions.register_again_button.click()  # shows the confirmation\n"
        "actions.register_again_confirm_button.click()\n"
        "browser.wait_idle(120)\n"
        "view.controller.wait_settled(120)\n"
        "again = view.controller.record\n"
        "print(again.id != failed.id, again.status, again.description)"
    ),
    md(
        "## Delete it\n\n"
        "**Delete…** asks first, naming the image. Deleting from SWR as well (the image itself,\n"
        "for everyone who uses it) is a separate checkbox, off by default:"
    ),
    code(
        "actions.delete_button.click()\n"
        'print(actions.force_checkbox.description, "->", actions.force_checkbox.value)\n'
        "actions.delete_confirm_button.click()\n"
        "browser.wait_idle(60)\n"
        "print(again.id in [image.id for image in client.list()])"
    ),
    md(
        "## Both tabs in a cell\n\n"
        "`Workbench` is what the side panel shows: the **Register** form and this browser, and the\n"
        "list refreshes when the form registers an image."
    ),
    code("from mai_widgets import Workbench\n\nWorkbench()"),
]

# -- 05: save your environment as an image (the Save notebook tab and %save_image) ------------

# The image the notebook saves the instance as, in the first SWR organization the credentials can
# write (mai-demo in the demo). Its tag is left to the default, a date and time the repository
# does not have yet, so running the notebook again saves again instead of meeting "tag taken".
SAVE_NAME = "my-python-env"

SAVE = [
    md(
        "# Save your environment as an image\n\n"
        "You `pip install`ed and `apt-get`ed your way to a working environment in a ModelArts\n"
        "notebook instance. ModelArts can save that instance as a container image (its\n"
        "*create-image* API), for a training job, a colleague or your next notebook. The\n"
        "**Save notebook** tab of the side panel and `%save_image` do it from where you are,\n"
        "and follow it to the end.\n\n"
        + RUN_ELSEWHERE
        + "\n\nin the ModelArts notebook instance you want to keep (or anywhere, to save any of your\n"
        'RUNNING instances). In the demo, "this instance" is the emulator\'s `mai-demo-notebook`.'
    ),
    md(
        '## Which instance is "this one"\n\n'
        "ModelArts does not tell a kernel which instance it runs in, so mai-widgets takes, in order:\n\n"
        "1. the id you pass (`--notebook ID`, or an argument);\n"
        "2. the setting `MAI_WIDGETS_NOTEBOOK_ID` (or `c.MaiConfig.notebook_id`): the id is on the\n"
        "   instance's page in the ModelArts console (`make demo` sets it to its demo instance);\n"
        "3. the one RUNNING instance whose address is this machine's (a guess: no public source\n"
        "   says what an instance's `ip` is);\n"
        "4. otherwise you pick from your RUNNING instances.\n\n"
        "The same calls, from Python:"
    ),
    code(
        "from mai_widgets.services.images import ImageClient\n"
        "from mai_widgets.services.notebooks import this_notebook\n\n"
        "client = ImageClient()  # reads Jupyter config files and the environment\n"
        'for instance in client.list_notebooks(status="RUNNING"):\n'
        '    print(instance.id, instance.label, instance.image.name if instance.image else "")\n'
        "this_id = this_notebook(client)\n"
        'print("this one:", this_id or "cannot be told: pass --notebook ID")'
    ),
    md(
        "## What is not kept\n\n"
        "The image holds the instance's system disk: what you installed with `pip`, `conda` or\n"
        "`apt-get`. It does **not** hold the instance's mounted storage: `/home/ma-user/work` (your\n"
        "persistent volume, this notebook included), `/data` and `/cache`. Keep data there, and put\n"
        "what the image needs elsewhere. While it saves, the instance is `SNAPSHOTTING`:\n"
        "unavailable, kernels included, until it is `RUNNING` again. The tab and the magic say so\n"
        "before every save.\n\n"
        "## The Save notebook tab\n\n"
        "In the side panel (or in a cell, below) the third tab picks this instance, the first SWR\n"
        "organization you can write, the name of the image the instance runs, and a date-and-time\n"
        "tag the repository does not have yet. Change any of them, then press **Save**."
    ),
    code(
        "from mai_widgets import Workbench\n\n"
        "bench = Workbench()\n"
        "bench.show_save()  # opens the Save notebook tab and lists your RUNNING instances\n"
        "bench"
    ),
    md(
        "## `%save_image`: one line does the same\n\n"
        "It follows `%register_image`'s conventions (`%save_image?` lists every flag). Look before\n"
        "you leap: `--dry-run` shows the request, with the same call written with Huawei's Python\n"
        "SDK and with curl, and sends nothing."
    ),
    code(f"%load_ext mai_widgets\n%save_image {SAVE_NAME} --dry-run"),
    md(
        "## Save, and watch both states\n\n"
        "Without `--dry-run` the magic saves and shows the tab's view: the instance goes\n"
        "`SNAPSHOTTING` → `RUNNING`, the image `INIT` → `CREATING` → `ACTIVE`, live. It returns the\n"
        "image record once both have settled. On the real service a save takes minutes; `--no-wait`\n"
        "returns at once, and Ctrl-C (or `--timeout S`) stops only the waiting: ModelArts carries\n"
        "on, and the view says so."
    ),
    code(
        f'record = %save_image {SAVE_NAME} --description "Python 3.10 with my packages" --timeout 1800\n'
        "print(record.id, record.status, record.origin)\n"
        "print(record.swr_path)"
    ),
    md("The instance runs on the image it was just saved as, so a restart keeps what you installed:"),
    code(
        "instance = client.get_notebook(this_id)\n"
        'print(instance.status, instance.image.name if instance.image else "", '
        "instance.image.id == record.id if instance.image else False)"
    ),
    md(
        "## The result in the Images tab\n\n"
        "The saved image is an ordinary image of yours (origin `IMAGE_SAVE`): the **Images** tab\n"
        "lists it, and selecting it shows its status view, which says how it was made. The next\n"
        "cell selects it from code, as a click on its row would:"
    ),
    code(
        "bench.show_images()\n"
        "bench.browser.wait_idle(60)\n"
        "detail = bench.browser.select(record.id)\n"
        "detail.controller.wait_settled(60)\n"
        "print(detail.controller.record.status)\n"
        "bench"
    ),
    md(
        "## When ModelArts says no\n\n"
        "A failure fails the cell with one block (code, message, request id, and what to do),\n"
        "never a traceback. Saving again under the tag just used is refused: tags cannot be\n"
        'reused. (This cell is tagged `raises-exception`, so "Run all" carries on.)'
    ),
    failing_code(f"%save_image {SAVE_NAME}:{{record.tag}}"),
    md(
        "Each refusal says what to do in words: the instance is not running (start it), starting or\n"
        "stopping (wait), busy with another operation (wait), frozen or gone; the organization does\n"
        "not exist or cannot be written; the image quota is full. An environment too large to save\n"
        "is accepted first and then ends `CREATE_FAILED`, with ModelArts' reason and a hint: move\n"
        "large files into `/home/ma-user/work` (which is not saved), or build the image elsewhere."
    ),
]

# -- 06: many images at once (a file, %register_images, batch, the mai-widgets console script) ----

# Demo SWR images no other example registers (host-less: the registry follows the region), one of
# them arm64 only. Files are written next to the notebook, as a user would.
BATCH_FILE = "images.yaml"
BATCH_YAML = """\
defaults:                      # every entry gets these unless it sets its own
  arch: X86_64
  resource_category: [CPU]
  services: [NOTEBOOK, SSH]
images:
  - swr_path: mai-demo/pytorch-cpu:2.2.0
    description: PyTorch 2.2 for CPU notebooks
  - swr_path: mai-demo/pytorch-cpu:2.1.0
    description: PyTorch 2.1 for CPU notebooks
  - swr_path: mai-demo/mindspore-ascend:2.3.0-aarch64
    arch: AARCH64
    resource_category: [ASCEND]
    description: MindSpore 2.3 on Ascend
"""
# A typo in a key: the file is refused before anything is sent, naming the entry and the nearest key.
BAD_BATCH_YAML = """\
images:
  - swr_path: mai-demo/pytorch-cpu:2.2.0
    resource_categroy: [GPU]
"""
# Another region, to show where a host-less path goes there (nothing is sent to it).
OTHER_REGION = "cn-east-3"
# The console script, run by the kernel's own Python (so it is the same mai-widgets, on any PATH).
CLI = "{sys.executable} -m mai_widgets.cli"

BATCH = [
    md(
        "# Many images at once\n\n"
        "A team keeps a set of images: every framework, version and architecture it supports.\n"
        "Instead of one `%register_image` per image, describe the set in one file, see what\n"
        "registering it would do (`plan`), register what is new (`apply`), and write what is\n"
        "registered back to such a file (`export`) to move the set to another region or project.\n"
        "The same file works in a notebook (`%register_images`), in Python (`mai_widgets.batch`)\n"
        "and in a terminal or CI (the `mai-widgets` console script).\n\n"
        + RUN_ELSEWHERE
        + "\n\nand replace the `mai-demo` organization in the file below with your own SWR organization\n"
        "(and its images with ones you pushed there). The README lists every setting."
    ),
    md(
        "## The file\n\n"
        "YAML, or JSON of the same shape: one entry per image under `images`, with the keys of the\n"
        "register form (`swr_path`, `arch`, `resource_category`, `services`, `service_type`,\n"
        "`visibility`, `description`, `workspace_id`, ...). `defaults` is optional: every entry gets\n"
        "these unless it sets its own. The paths name no registry host, so the region's SWR is used\n"
        "wherever the file is applied. The last image is arm64 only: it runs on Ascend hosts."
    ),
    code(f"%%writefile {BATCH_FILE}\n{BATCH_YAML}"),
    md(
        "## Plan: what applying would do\n\n"
        "`--plan` sends no registration. It lists your registered images once and tells, per entry:\n\n"
        "* **new**: not registered yet; applying registers it;\n"
        "* **same**: registered already with these fields; applying leaves it alone;\n"
        "* **differs**: registered with other fields (they are listed); applying reports it and\n"
        "  changes nothing;\n"
        "* **failed**: registered, and that registration failed; `--replace-failed` deletes it and\n"
        "  registers it again;\n"
        "* **invalid**: a value the register form refuses (`arch: SPARC`), with its message.\n\n"
        "It also checks each image to be registered in SWR, as the panel's checklist does: does it\n"
        "exist, for this architecture, does a notebook image run as `ma-user`. A plan where any entry\n"
        "would not end as the file asks fails the cell."
    ),
    code(f"%load_ext mai_widgets\n%register_images {BATCH_FILE} --plan"),
    md(
        "## Apply\n\n"
        "Without `--plan` the magic registers the new entries, 4 at a time (`--concurrency N`),\n"
        "each exactly once whatever the network does, and follows them all until they are `ACTIVE`:\n"
        "one live view with a progress bar, a row per entry and the summary. It returns the results,\n"
        "and the cell fails unless every entry ends `ACTIVE` or was registered the same way before.\n"
        "`--no-wait` returns once every registration is sent. Interrupting the kernel stops\n"
        "starting registrations and shows what was sent; running the cell again finishes the rest."
    ),
    code(
        f"result = %register_images {BATCH_FILE}\n"
        "print(result)\n"
        "for entry in result.entries:\n"
        "    print(entry.index, entry.state, entry.record.id, entry.swr_path)"
    ),
    md(
        "## Apply again: nothing new is sent\n\n"
        "Every entry is now registered the same way, so applying the file again registers nothing.\n"
        "That makes `apply` safe to run on every change of the file (in CI, say): only what is new\n"
        "is sent."
    ),
    code(f"again = %register_images {BATCH_FILE}\nprint(again)"),
    md(
        "## When an image is registered otherwise\n\n"
        "The same plan in Python: `mai_widgets.batch` has `load`/`loads`, `plan`, `apply`, `export`\n"
        "and `dumps`, returning typed results, with no widgets (for scripts). Here the file asks for\n"
        "another description of one image than the one it was registered with. The plan says\n"
        "**differs** and names the field; `apply` would report it and leave the image alone (nothing\n"
        "registered is replaced silently). To change it, delete the image and apply again."
    ),
    code(
        "from pathlib import Path\n\n"
        "from mai_widgets import batch\n\n"
        f'text = Path("{BATCH_FILE}").read_text()\n'
        'edited = batch.loads(text.replace("PyTorch 2.1 for CPU notebooks", "PyTorch 2.1, CPU only"))\n'
        "plan = batch.plan(edited, preflight=False)  # preflight=False: no SWR checks, only the listing\n"
        "print(plan)\n"
        "for entry in plan.entries:\n"
        "    print(entry.index, entry.swr_path, entry.summary())"
    ),
    md(
        "## Export: move a set to another region or project\n\n"
        "`export` writes your registered (DEDICATED) images as such a file, with the fields each was\n"
        "registered with (those equal to the defaults are left out). Filters: `name` (part of the\n"
        "image name), `status` and `workspace_id`. This region's registry host is left out of the\n"
        "paths, so the file reads back unchanged and, applied in another region, registers the same\n"
        "images from that region's SWR:"
    ),
    code(
        'exported = batch.export(status="ACTIVE")\n'
        'exported_text = batch.dumps(exported)  # YAML; batch.dumps(exported, "json") for JSON\n'
        'Path("exported.yaml").write_text(exported_text)\n'
        "print(exported_text)\n"
        'print("reads back unchanged:", batch.load("exported.yaml").to_data() == exported.to_data())'
    ),
    md(
        "Applied here, the exported file changes nothing: every image is **same**. In another region\n"
        f"(`{OTHER_REGION}` here) each host-less path names that region's registry:"
    ),
    code(
        'print(batch.plan(batch.load("exported.yaml"), preflight=False))\n'
        f'for entry, path, *_ in exported.requests("{OTHER_REGION}"):\n'
        "    print(entry.index, path)"
    ),
    md(
        "To move the set, push (or sync) the images to the other region's SWR, then apply the file\n"
        "with that region and project's settings, for example in a terminal:\n\n"
        "```bash\n"
        f"export MAI_WIDGETS_REGION={OTHER_REGION}\n"
        "export HUAWEICLOUD_SDK_PROJECT_ID=...   # the target project (or leave it to IAM)\n"
        "mai-widgets plan exported.yaml\n"
        "mai-widgets apply exported.yaml\n"
        "```"
    ),
    md(
        "## In a terminal and in CI: `mai-widgets`\n\n"
        "The console script does the same: `mai-widgets plan FILE`, `mai-widgets apply FILE\n"
        "[--concurrency N] [--no-wait] [--replace-failed] [--timeout S]`, `mai-widgets export\n"
        "[--name N] [--status S ...] [--workspace-id ID] > images.yaml`. It prints a line per change\n"
        "and the summary table (plain text when the output is not a terminal; `--json` for machines)\n"
        "and exits **0** on success, **1** when an entry failed, **2** on bad input, so a CI step\n"
        "fails when it should. The cells below run it with the kernel's Python, as\n"
        "`python -m mai_widgets.cli`, which is the same program:"
    ),
    code(f'import sys\n\n!{CLI} apply {BATCH_FILE}; echo "exit code $?"'),
    md(
        "## A bad file is refused before anything is sent\n\n"
        "An unknown key, a path listed twice, a key given twice or YAML that does not parse: the\n"
        "whole file is refused, naming the entry (number, line, path) and, for a misspelt key, the\n"
        "nearest valid one. The magic fails the cell with one line (this cell is tagged\n"
        '`raises-exception`, so "Run all" carries on):'
    ),
    code(f"%%writefile bad.yaml\n{BAD_BATCH_YAML}"),
    failing_code("%register_images bad.yaml --plan"),
    md("The console script says the same on one line and exits 2:"),
    code(f'!{CLI} plan bad.yaml; echo "exit code $?"'),
]

# The first image each notebook registers (tests register it beforehand to meet "already registered").
FIRST_IMAGES: dict[str, str] = {
    "01-register-with-the-panel.ipynb": PANEL_IMAGE,
    "02-register-with-the-magic.ipynb": MAGIC_IMAGE,
    "03-python-api-for-scripts.ipynb": SCRIPT_IMAGE,
}

NOTEBOOKS: dict[str, list[NotebookNode]] = {
    "01-register-with-the-panel.ipynb": PANEL,
    "02-register-with-the-magic.ipynb": MAGIC,
    "03-python-api-for-scripts.ipynb": SCRIPT,
}
NOTEBOOKS["04-manage-your-images.ipynb"] = MANAGE
NOTEBOOKS["05-save-your-environment-as-an-image.ipynb"] = SAVE
NOTEBOOKS["06-many-images-at-once.ipynb"] = BATCH


def build(name: str, cells: list[NotebookNode]) -> NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    stem = name.split("-", 1)[0]
    for index, cell in enumerate(cells):
        cell.id = f"nb{stem}-{index:02d}"  # stable ids: regenerating changes nothing
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(name, NOTEBOOKS[name])) + "\n"


def main() -> int:
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
