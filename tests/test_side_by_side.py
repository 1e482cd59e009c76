"""The variants read side by side: small diffs, the same skeleton, shared code that cannot drift.

The diff budgets are the lesson's size: `diff -u PARENT/FILE CHILD/FILE` must show the
child's paper and little else.
"""
import ast
import difflib

import pytest
from absl import flags

import variants
from tests.helpers import REPO

VARIANTS, PARENTS = variants.NAMES, variants.PARENTS  # every variant; each child: the one it is copied from
BUDGETS = {"train.py": 70, "losses.py": 40, "networks.py": 40}  # changed lines per parent -> child
FUNCTIONS = {  # public functions of every variant, in this order (losses.py may add its paper's own)
    "train.py": ["define_flags", "make_optimizers", "make_models", "make_steps", "critic_updates",
                 "train_iteration", "train", "main"],
    "losses.py": ["discriminator_loss", "generator_loss"],
    "networks.py": ["weight_init", "leaky_relu", "batch_norm", "make_generator", "make_discriminator"],
}
IDENTICAL = {  # the loop and the program, and the critics' activation: plumbing, not a paper
    "train.py": ("train_iteration", "train", "main"), "networks.py": ("leaky_relu",)}
MAX_LINE = 100


def changed_lines(parent, child, name):
    before = (REPO / parent / name).read_text().splitlines()
    after = (REPO / child / name).read_text().splitlines()
    diff = list(difflib.unified_diff(before, after, lineterm=""))[2:]  # without the ---/+++ header
    return sum(1 for line in diff if line.startswith(("-", "+")))


@pytest.mark.parametrize("child", PARENTS)
@pytest.mark.parametrize("name", BUDGETS)
def test_each_diff_with_the_parent_stays_within_its_budget(child, name):
    count = changed_lines(PARENTS[child], child, name)
    assert 0 < count <= BUDGETS[name], f"diff -u {PARENTS[child]}/{name} {child}/{name}: {count} lines"


def test_the_diff_counter_counts_blank_and_changed_lines():
    # A check that cannot fail is no check: the counter must see a real difference.
    assert changed_lines("dcgan", "wgan_gp", "losses.py") > changed_lines("wgan", "wgan_gp", "losses.py")


def functions(variant, name):
    tree = ast.parse((REPO / variant / name).read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_variant_has_the_same_functions_in_the_same_order(variant, name):
    defined = [function for function in functions(variant, name) if not function.startswith("_")]
    expected = FUNCTIONS[name]
    if name == "losses.py":
        defined = defined[:len(expected)]
    assert defined == expected


def code_without_docstrings(function):
    """The function's AST without docstrings: comments may cite each paper's own line numbers."""
    function = ast.parse(ast.unparse(function)).body[0]
    for node in ast.walk(function):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(function)


@pytest.mark.parametrize("name, function", [(name, function) for name in IDENTICAL for function in IDENTICAL[name]])
def test_the_training_loop_and_the_program_are_identical_in_every_variant(name, function):
    reference = code_without_docstrings(functions("wgan_gp", name)[function])
    for variant in VARIANTS:
        assert code_without_docstrings(functions(variant, name)[function]) == reference, variant


def test_the_comparison_sees_a_changed_line():
    assert code_without_docstrings(functions("wgan", "train.py")["critic_updates"]) != code_without_docstrings(
        functions("wgan_gp", "train.py")["critic_updates"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_lines_fit_in_100_characters(variant):
    for path in sorted((REPO / variant).glob("*.py")):
        long = [number for number, line in enumerate(path.read_text().splitlines(), 1) if len(line) > MAX_LINE]
        assert not long, f"{path.relative_to(REPO)}: lines {long} are over {MAX_LINE} characters"


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_train_py_names_its_paper_and_its_deviations(variant):
    docstring = ast.get_docstring(ast.parse((REPO / variant / "train.py").read_text()))
    assert "arXiv:" in docstring and "Deviations from the paper:" in docstring
    assert f"python {variant}/train.py" in docstring


def test_one_process_imports_every_variant_and_no_flag_is_defined():
    modules = [variants.module(variant, "train") for variant in VARIANTS]
    assert len({module.make_steps for module in modules}) == len(VARIANTS)
    assert "dataset" not in flags.FLAGS and "n_critic" not in flags.FLAGS


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_reads_its_defaults_into_a_private_flag_registry(variant):
    from common import cli

    config = cli.default_config(variants.module(variant, "train"))
    assert config["variant"] == variant and config["logdir"] == f"runs/{variant}-mnist"
    expected_n_critic = 1 if variant == "dcgan" else 5
    assert config["n_critic"] == expected_n_critic and config["dataset"] == "mnist"


def test_common_has_no_import_cycle():
    graph = {}
    for path in sorted((REPO / "common").glob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "common":
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("common."):
                imported.add(node.module.split(".")[1])
        graph[path.stem] = imported

    def reaches(start, target, seen=()):
        return any(nxt == target or (nxt not in seen and reaches(nxt, target, (*seen, nxt)))
                   for nxt in graph.get(start, ()))

    cycles = [name for name in graph if reaches(name, name)]
    assert not cycles, f"modules of common/ in an import cycle: {cycles}"
    assert graph["training_run"] >= {"quality", "sampling"}  # the graph was read, not empty


ABOVE_COMMON = (*variants.NAMES, "variants", "commands")  # what the plumbing must never import
COMPUTED = "<a computed name>"


def imports_above_common(source):
    """The modules above common/ that `source` imports by any route: import statements,
    importlib.import_module(...) and __import__(...). A name computed at run time (an f-string,
    a variable) counts too, since it can name a variant."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        elif isinstance(node, ast.Call) and (ast.unparse(node.func).endswith("import_module")
                                             or ast.unparse(node.func) == "__import__"):
            argument = node.args[0] if node.args else None
            literal = isinstance(argument, ast.Constant) and isinstance(argument.value, str)
            names = [argument.value if literal else COMPUTED]
        else:
            continue
        found += [name for name in names if name == COMPUTED or name.split(".")[0] in ABOVE_COMMON]
    return found


@pytest.mark.parametrize("path", sorted((REPO / "common").glob("*.py")), ids=lambda path: path.name)
def test_common_imports_no_variant_the_registry_or_a_command(path):
    assert not imports_above_common(path.read_text()), f"{path.relative_to(REPO)} reaches above common/"


def test_the_layering_check_sees_every_route_of_import():
    sources = ["import wgan_gp.train", "from dcgan import networks", "import variants",
               "from commands import export", "importlib.import_module('sngan.losses')",
               "import_module(f'{name}.networks')", "__import__('wgan_r1.train', fromlist=['train'])"]
    assert [len(imports_above_common(source)) for source in sources] == [1] * len(sources)
    assert not imports_above_common("import json\nfrom common import cli\nimportlib.import_module('keras')")


def test_the_registry_lists_every_variant_directory_with_its_paper():
    directories = sorted(path.parent.name for path in REPO.glob("*/train.py") if path.parent.name != "toy")
    assert sorted(variants.NAMES) == directories
    for variant in variants.VARIANTS.values():
        docstring = ast.get_docstring(ast.parse((REPO / variant.name / "train.py").read_text()))
        assert f"arXiv:{variant.arxiv}" in docstring, variant.name
        assert variant.parent is None or variant.parent in variants.NAMES
    assert variants.PAPERS == ("dcgan", "wgan", "wgan_gp")  # the siblings are beyond the papers


def test_an_unknown_variant_is_named_with_the_choices():
    with pytest.raises(ValueError, match="unknown variant 'began'; choose one of dcgan, wgan"):
        variants.get("began")


def test_the_readmes_diff_sizes_are_the_diffs_of_today():
    # README.md's "diff -u PARENT/FILE CHILD/FILE  # ... (N lines)": N is changed_lines today.
    import re

    said = re.findall(r"^diff -u (\w+)/(\w+\.py) (\w+)/\2 .*\((\d+) lines\)$", (REPO / "README.md").read_text(), re.M)
    assert len(said) >= 10
    for parent, name, child, lines in said:
        assert changed_lines(parent, child, name) == int(lines), f"{parent} -> {child} {name}"
