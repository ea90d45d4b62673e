"""The own-data page in Chromium: a student uploads a zip of class folders (Korean folder names,
PNG and JPEG files of several sizes), sees what it holds with a sample grid per class, imports
it after the confirmation, and trains on it with the live trainer until the model is kept."""

from __future__ import annotations

from harness import (
    SHAPE_CLASSES,
    click_and_wait,
    fill_text,
    no_exception,
    open_page,
    screenshot,
    shapes_zip,
    upload_file,
    wait_for_app,
)

TRAIN_TIMEOUT_MS = 240_000
CLASSES = SHAPE_CLASSES


def test_upload_a_zip_see_the_samples_import_and_train(page, tmp_path):
    path = tmp_path / "shapes.zip"
    path.write_bytes(shapes_zip())
    open_page(page, "/own_data")
    # Nothing stored yet: the Train tab (hidden behind Import) says so.
    page.get_by_text("No stored set yet", exact=False).first.wait_for(state="attached")
    no_exception(page)
    upload_file(page, "one folder of images per class", path)
    page.get_by_text("Samples of each class", exact=False).wait_for()
    # One row of samples per class, each named by its folder.
    for folder in CLASSES:
        page.get_by_text(folder, exact=True).first.wait_for()
    samples = page.locator('[data-testid="stImage"] img')
    # The grid's images arrive after the captions that name them: wait for them to be there.
    page.wait_for_function(
        f"""() => document.querySelectorAll('[data-testid="stImage"] img').length
            >= {len(CLASSES) * 8}""",
        timeout=60_000,
    )
    assert samples.count() >= len(CLASSES) * 8
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stImage"] img')]
            .every(image => image.complete && image.naturalWidth > 0)"""
    )
    screenshot(page, "own-data-sample-grid")
    no_exception(page)

    click_and_wait(page, page.get_by_role("button", name="Import…"))
    click_and_wait(page, page.get_by_role("button", name="Confirm import"))
    page.get_by_text("Stored 'shapes'", exact=False).wait_for()
    no_exception(page)

    page.get_by_role("tab", name="Train").click()
    fill_text(page, "Epochs", "2")
    click_and_wait(page, page.get_by_role("button", name="Start training"))
    page.get_by_text("Kept in this session").wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_for_app(page)
    page.get_by_text("Test accuracy", exact=False).first.wait_for()
    screenshot(page, "own-data-trained")
    no_exception(page)
