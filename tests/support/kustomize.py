"""Renders a kustomization the way `kubectl kustomize` does, for the subset Beacon's manifests use, so the tests
need neither kustomize nor a cluster: `resources` (files and other kustomizations), `namespace`, `images` and
strategic-merge `patches` from files. Anything else in a kustomization is refused rather than ignored."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
}


def render(directory: Path) -> list[Resource]:
    """The resources `kubectl kustomize directory` prints (in file order, not kustomize's kind order)."""
    kustomization: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise ValueError(f"{directory}: this renderer does not know {sorted(unsupported)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources.extend(render(path) if path.is_dir() else read_documents(path))
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{directory}: only patches from files (strategic merge) are rendered: {patch}")
        for document in read_documents(directory / patch["path"]):
            target = find(resources, document["kind"], document["metadata"]["name"])
            merged = merge(target, document)
            target.clear()
            target.update(merged)
    for image in kustomization.get("images", []):
        replace_image(resources, image)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED_KINDS:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def read_documents(path: Path) -> list[Resource]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    if len(found) != 1:
        raise ValueError(f"{len(found)} resources are {kind}/{name}")
    return found[0]


def merge(original: Any, patch: Any) -> Any:
    """A strategic merge: maps merge key by key (null deletes), lists of named items merge by name, other lists
    and values are replaced."""
    if isinstance(original, dict) and isinstance(patch, dict):
        if any(key.startswith("$") for key in patch):
            raise ValueError(f"patch directives are not rendered: {sorted(patch)}")
        merged = dict(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = merge(original[key], value) if key in original else copy.deepcopy(value)
        return merged
    if isinstance(original, list) and isinstance(patch, list) and _named(original) and _named(patch):
        by_name = {item["name"]: item for item in original}
        merged_list = [merge(item, _by_name(patch).get(item["name"], {})) for item in original]
        return merged_list + [copy.deepcopy(item) for item in patch if item["name"] not in by_name]
    return copy.deepcopy(patch)


def replace_image(resources: list[Resource], image: dict[str, str]) -> None:
    for resource in resources:
        pod_spec = pod_spec_of(resource)
        for container in (pod_spec or {}).get("containers", []) + (pod_spec or {}).get("initContainers", []):
            name, tag = split_image(container["image"])
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/name:tag`` -> (``registry:5000/name``, ``tag``)."""
    repository, _, last = image.rpartition("/")
    name, _, tag = last.partition(":")
    return (f"{repository}/{name}" if repository else name), tag


def pod_spec_of(resource: Resource) -> dict[str, Any] | None:
    """The pod template's spec of a workload, else None."""
    path = POD_SPEC_PATHS.get(resource["kind"])
    if path is None:
        return None
    spec: dict[str, Any] = resource
    for key in path:
        spec = spec[key]
    return spec


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {item["name"]: item for item in items}
