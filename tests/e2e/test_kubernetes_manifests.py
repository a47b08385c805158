"""The Kubernetes manifests in deploy/kubernetes, as an operator applies them: every document
is checked against the Kubernetes API's schema, strictly (an unknown or misspelled field is an
error, as the API server's strict field validation makes it), and the parts that must agree
with each other do. kubernetes-validate ships the schemas, so this needs neither a server, a
cluster nor the network. What a schema cannot say (the API server's own rules, such as
`procMount: Unmasked` only with `hostUsers: false`, and whether the pods run) is not tested
here: see docs/SCALING.md."""

import copy
from pathlib import Path

import kubernetes_validate
import yaml

from conftest import ROOT

MANIFESTS = ROOT / "deploy" / "kubernetes"
# The manifests need user-namespaced pods with an unmasked /proc, on by default from 1.33; they
# are checked against that version's schema and the newest one the validator knows.
OLDEST = "1.33.0"
VERSIONS = [OLDEST, kubernetes_validate.latest_version()]


def documents(path: Path) -> list:
    """The non-empty YAML documents of `path`."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> dict:
    """Every manifest file in deploy/kubernetes and its documents."""
    files = sorted(p for p in MANIFESTS.rglob("*") if p.suffix in (".yaml", ".yml"))
    return {p.relative_to(ROOT): documents(p) for p in files}


def problems(doc: dict, version: str) -> list:
    """What is wrong with `doc` against `version`'s schema, strictly; empty when nothing is.
    A kind the schema does not know is a problem too (the validator's command line only warns)."""
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(part) for part in e.path)
        return [f"{name} against {version}: {path}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [f"{name}: {e.message}"]
    return []


def the(kind: str, name: str = None) -> dict:
    """The one document of `kind` (and `name`) in deploy/kubernetes."""
    [doc] = [d for docs in manifests().values() for d in docs
             if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    return doc


def test_the_kubernetes_manifests_validate_against_the_schema():
    found = manifests()
    others = {p.name for p in MANIFESTS.rglob("*") if p.is_file()} - {p.name for p in found}
    assert others <= {"README.md"}, f"files that are not checked: {others}"
    assert all(found.values()), f"a manifest file without documents: {found}"
    kinds = {doc["kind"] for docs in found.values() for doc in docs}
    assert {"StatefulSet", "Service", "PodDisruptionBudget"} <= kinds, kinds
    wrong = [f"{path}: {problem}" for path, docs in found.items() for doc in docs
             for version in VERSIONS for problem in problems(doc, version)]
    assert not wrong, "\n".join(wrong)


def test_a_misspelled_field_or_kind_fails_the_check():
    statefulset = the("StatefulSet")
    typo = copy.deepcopy(statefulset)
    [container] = typo["spec"]["template"]["spec"]["containers"]
    container["readinesProbe"] = container.pop("readinessProbe")
    [problem] = problems(typo, OLDEST)
    assert "spec.template.spec.containers.0" in problem and "'readinesProbe' was unexpected" in problem

    wrong_type = copy.deepcopy(statefulset)
    wrong_type["spec"]["template"]["spec"]["hostUsers"] = "false"
    [problem] = problems(wrong_type, OLDEST)
    assert "spec.template.spec.hostUsers" in problem

    unknown = {**the("Service", "tapedeck"), "kind": "Srevice"}
    [problem] = problems(unknown, OLDEST)
    assert "Srevice" in problem


def test_the_manifests_agree_on_names_ports_and_the_drain():
    statefulset = the("StatefulSet")
    headless, public = the("Service", "tapedeck"), the("Service", "tapedeck-api")
    pod = statefulset["spec"]["template"]
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}

    # Every selector picks the StatefulSet's pods.
    labels = pod["metadata"]["labels"]
    for selector in (statefulset["spec"]["selector"]["matchLabels"], headless["spec"]["selector"],
                     public["spec"]["selector"], the("PodDisruptionBudget")["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items(), selector

    # Peers reach each node by its name under the headless Service, recovering or draining too.
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"]
    assert statefulset["spec"]["serviceName"] == headless["metadata"]["name"]
    assert env["TAPEDECK_NODE_ID"] == "$(POD_NAME)"
    api_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "api")
    assert env["TAPEDECK_INTERNAL_URL"] == \
        f"http://$(POD_NAME).{headless['metadata']['name']}.$(POD_NAMESPACE).svc:{api_port}"
    assert env["TAPEDECK_LISTEN"] == f"0.0.0.0:{api_port}"
    assert env["TAPEDECK_PROXY_LISTEN"].startswith("0.0.0.0:")
    names = [e["name"] for e in container["env"]]
    assert names.index("POD_NAME") < names.index("TAPEDECK_INTERNAL_URL"), "$(VAR) needs VAR first"

    # preStop, then the drain, then the shutdown, all inside the grace period.
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    needed = pre_stop + int(env["TAPEDECK_DRAIN_SECS"]) + int(env["TAPEDECK_SHUTDOWN_SECS"])
    assert pod["spec"]["terminationGracePeriodSeconds"] > needed

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "api"}, probe
