"""The e2e harness's WordPress copy keeps what Debian's package links in."""

from __future__ import annotations

import os
from pathlib import Path

from tests.wordpress.harness import copy_tree


def test_relative_and_absolute_links_are_copied_as_their_targets(
    tmp_path: Path,
) -> None:
    system = tmp_path / "usr" / "share" / "javascript" / "underscore"
    system.mkdir(parents=True)
    (system / "underscore.min.js").write_text("var _ = {};")
    source = tmp_path / "usr" / "share" / "wordpress"
    js = source / "wp-includes" / "js"
    js.mkdir(parents=True)
    (js / "backbone.min.js").write_text("var Backbone = {};")
    # as in Debian's package: a relative link, an absolute one and a dangling one
    os.symlink(
        "../../../javascript/underscore/underscore.min.js", js / "underscore.min.js"
    )
    os.symlink(system, source / "libs")
    os.symlink("../../missing.js", js / "gone.js")
    target = tmp_path / "copy"

    copy_tree(source, target)

    copied = target / "wp-includes" / "js" / "underscore.min.js"
    assert copied.read_text() == "var _ = {};" and not copied.is_symlink()
    assert (target / "libs" / "underscore.min.js").read_text() == "var _ = {};"
    assert (target / "wp-includes" / "js" / "backbone.min.js").is_file()
    assert not (target / "wp-includes" / "js" / "gone.js").exists()
    assert not any(path.is_symlink() for path in target.rglob("*"))
