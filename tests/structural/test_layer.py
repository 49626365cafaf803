"""StructuralLayer inside the per-file merge chain (`filemerge.merge_file`)."""

from stacker.filemerge import FileVersions, merge_file
from stacker.linemerge import line_merge
from stacker.structural import StructuralLayer
from tests.test_merge_file import BASE, version


def test_layer_resolves_and_records_actions():
    versions = FileVersions("flash_attn/fwd.py", BASE, version("        smem=4096,\n"), version("        cluster=2,\n"))
    result = merge_file(versions, [StructuralLayer()])
    assert result.is_clean
    assert result.text == version("        smem=4096,\n        cluster=2,\n")
    [action] = [a for a in result.actions if a.layer == "structural"]
    assert action.path == "flash_attn/fwd.py" and action.location == "forward"
    assert action.detail.startswith("call-arguments: call `kernel(q, k).launch(...)`")
    [hunk] = action.hunks
    assert "smem" in hunk.ours and "cluster" in hunk.theirs and "smem" not in hunk.base
    assert "smem=4096" in action.result and "cluster=2" in action.result


def test_layer_leaves_non_python_and_unresolvable_conflicts():
    layer = StructuralLayer()
    merged = line_merge(BASE, version("        smem=4096,\n"), version("        cluster=2,\n"))
    assert layer.resolve("notes.txt", merged) is None
    conflict = line_merge(BASE, version(scale="2.0"), version(scale="3.0"))
    assert layer.resolve("fwd.py", conflict) is None


def test_layer_works_on_the_views_of_a_partly_resolved_file():
    # Two conflicts; the layer resolves one and the chain keeps the other.
    ours = version("        smem=4096,\n", scale="2.0")
    theirs = version("        cluster=2,\n", scale="3.0")
    result = merge_file(FileVersions("fwd.py", BASE, ours, theirs), [StructuralLayer()])
    assert len(result.merged.conflicts) == 1
    assert "smem=4096,\n        cluster=2," in result.merged.view("ours")
    assert result.merged.conflicts[0].ours == "    scale = 2.0\n"
