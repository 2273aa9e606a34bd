"""Render a Kustomize folder offline, without kustomize: the subset chatkeeper's manifests use.

    python deploy/kubernetes/render.py deploy/kubernetes/overlays/production > rendered.yaml

No kustomize or Helm binary comes from the registries this project reaches, so
``make deploy-check`` renders with this. It supports, with Kustomize's meaning:
``resources`` (files, or folders holding a kustomization.yaml), ``namespace``,
``labels`` (``pairs`` on metadata only), ``images`` (``newName``, ``newTag``,
``digest``), ``replicas`` and ``patches`` given by ``path`` (strategic merge,
matched by kind and name). Anything else in a kustomization.yaml is refused,
so the renderer never silently drops a field. tests/deploy/test_kubernetes.py
checks its output against ``kubectl kustomize`` where kubectl is installed.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "patches",
}
# Strategic merge: lists of objects merged by these keys (the Kubernetes API's patchMergeKey).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class RenderError(Exception):
    pass


def _documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [d for d in yaml.safe_load_all(handle) if d]


def merge(base: Any, patch: Any, field: str = "") -> Any:
    """A strategic merge patch of ``patch`` onto ``base`` (maps merge, keyed lists merge)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = [copy.deepcopy(item) for item in base]
        for item in patch:
            found = next(
                (i for i, b in enumerate(merged_list) if b.get(key) == item.get(key)), None
            )
            if found is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[found] = merge(merged_list[found], item, field)
        return merged_list
    return copy.deepcopy(patch)


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _set_image(container: dict[str, Any], rules: list[dict[str, Any]]) -> None:
    image = str(container.get("image", ""))
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    for rule in rules:
        if rule["name"] != name:
            continue
        new = rule.get("newName", name)
        if "digest" in rule:
            container["image"] = f"{new}@{rule['digest']}"
        elif "newTag" in rule:
            container["image"] = f"{new}:{rule['newTag']}"
        else:
            tag = image[len(name) :]
            container["image"] = new + tag


def render(folder: Path) -> list[dict[str, Any]]:
    """The resources of the kustomization in ``folder``, transformed as it says."""
    path = folder / "kustomization.yaml"
    if not path.is_file():
        raise RenderError(f"{folder} has no kustomization.yaml")
    (spec,) = _documents(path)
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise RenderError(f"{path}: unsupported field(s) {', '.join(sorted(unknown))}")
    docs: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        target = (folder / entry).resolve()
        docs += render(target) if target.is_dir() else _documents(target)
    for patch_entry in spec.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise RenderError(f"{path}: only patches with a path are supported")
        for patch in _documents(folder / patch_entry["path"]):
            name, kind = patch["metadata"]["name"], patch["kind"]
            matches = [
                i for i, d in enumerate(docs) if d["kind"] == kind and d["metadata"]["name"] == name
            ]
            if len(matches) != 1:
                raise RenderError(
                    f"{path}: patch for {kind}/{name} matches {len(matches)} resources"
                )
            docs[matches[0]] = merge(docs[matches[0]], patch)
    for label_set in spec.get("labels", []):
        if set(label_set) - {"pairs"}:
            raise RenderError(f"{path}: only labels with pairs (metadata only) are supported")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label_set["pairs"])
    for rule in spec.get("replicas", []):
        for doc in docs:
            if (
                doc["kind"] in {"Deployment", "StatefulSet"}
                and doc["metadata"]["name"] == rule["name"]
            ):
                doc["spec"]["replicas"] = rule["count"]
    for doc in docs:
        for container in _containers(doc):
            _set_image(container, spec.get("images", []))
        if "namespace" in spec and doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = spec["namespace"]
    return docs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: render.py KUSTOMIZATION_FOLDER", file=sys.stderr)
        return 2
    try:
        docs = render(Path(argv[0]))
    except (RenderError, OSError, yaml.YAMLError, KeyError) as exc:
        print(f"render: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
