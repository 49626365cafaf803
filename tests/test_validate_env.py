"""The environment a validation worker gets is an allow-list without secrets."""

from __future__ import annotations

from stacker.child_env import scrubbed_environment

PARENT = {
    "PATH": "/usr/bin", "HOME": "/root", "LC_ALL": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "0",
    "GITHUB_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "s", "HF_TOKEN": "h", "SSH_AUTH_SOCK": "/tmp/s",
    "SOME_RANDOM_VAR": "x", "CUTE_DSL_KEEP": "cubin", "CUTE_DSL_API_KEY": "nope", "PYTHONPATH": "/site:/other",
    "NCCL_NVLS_ENABLE": "0",
}


def test_only_allowed_names_pass():
    env = scrubbed_environment(PARENT)
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/root" and env["LC_ALL"] == "C.UTF-8"
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and env["NCCL_NVLS_ENABLE"] == "0"
    for name in ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "SSH_AUTH_SOCK", "SOME_RANDOM_VAR", "CUTE_DSL_KEEP"):
        assert name not in env


def test_patterns_widen_but_secrets_stay_out():
    env = scrubbed_environment(PARENT, allow=("CUTE_DSL_*",))
    assert env["CUTE_DSL_KEEP"] == "cubin"
    assert "CUTE_DSL_API_KEY" not in env


def test_tree_comes_first_on_pythonpath():
    env = scrubbed_environment(PARENT, python_path=["/tree", "/stacker"])
    assert env["PYTHONPATH"] == "/tree:/stacker:/site:/other"
    env = scrubbed_environment(PARENT, python_path=["/tree"], keep_parent_python_path=False)
    assert env["PYTHONPATH"] == "/tree"


def test_set_vars_win():
    env = scrubbed_environment(PARENT, allow=("CUTE_DSL_*",), set_vars={"CUTE_DSL_KEEP": "", "CUTE_DSL_ARCH": "sm_90a"})
    assert env["CUTE_DSL_ARCH"] == "sm_90a" and env["CUTE_DSL_KEEP"] == ""
    assert env["PYTHONUNBUFFERED"] == "1"
