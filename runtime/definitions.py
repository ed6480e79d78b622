"""The definitions folder (``BEACON_DEFINITIONS_DIR``, ``config/`` by default): funnels as YAML files, one per
funnel, in ``funnels/<funnel_id>.yaml``, and a site's own profile settings (RFM thresholds) in
``profiles/<site_id>.yaml``. Written by ``./beacon funnels add`` or by hand (a ConfigMap in Kubernetes), read by
the stream worker, which notices changes while it runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from schemas.funnels import FunnelDefinition, InvalidFunnelError, funnel_yaml, load_funnel_file
from schemas.profiles import InvalidProfileSettingsError, SiteProfileSettings, load_site_profile_settings

FUNNELS_FOLDER = "funnels"
PROFILES_FOLDER = "profiles"


@dataclass(frozen=True)
class FunnelFiles:
    funnels: tuple[FunnelDefinition, ...]
    problems: tuple[str, ...]  # files that were not used, and why


@dataclass(frozen=True)
class ProfileSettingsFiles:
    by_site: dict[str, SiteProfileSettings]
    problems: tuple[str, ...]


class DefinitionFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.funnels_dir = root / FUNNELS_FOLDER
        self.profiles_dir = root / PROFILES_FOLDER
        self._signature: tuple[tuple[str, int, int], ...] | None = None

    def read_funnels(self) -> FunnelFiles:
        """Every valid funnel; an invalid file, or a second file with the same funnel id, is a problem."""
        funnels: dict[str, FunnelDefinition] = {}
        problems = []
        for path in self._funnel_paths():
            try:
                funnel = load_funnel_file(path)
            except (InvalidFunnelError, OSError, UnicodeDecodeError) as error:
                problems.append(str(error))
                continue
            if funnel.funnel_id in funnels:
                problems.append(f"{path}: funnel {funnel.funnel_id!r} is already defined by another file")
                continue
            funnels[funnel.funnel_id] = funnel
        return FunnelFiles(tuple(funnels.values()), tuple(problems))

    def read_profile_settings(self) -> ProfileSettingsFiles:
        """Each site's profile settings; an invalid file, or one named after another site, is a problem."""
        by_site: dict[str, SiteProfileSettings] = {}
        problems = []
        for path in sorted(self.profiles_dir.glob("*.yaml")) if self.profiles_dir.is_dir() else ():
            try:
                site = load_site_profile_settings(path)
            except InvalidProfileSettingsError as error:
                problems.append(str(error))
                continue
            if path.stem != site.site_id:
                problems.append(f"{path}: the file of site {site.site_id!r} is named {site.site_id}.yaml")
                continue
            by_site[site.site_id] = site
        return ProfileSettingsFiles(by_site, tuple(problems))

    def changed(self) -> bool:
        """Whether the files differ from the last time this was asked (names, sizes, modification times)."""
        try:
            signature = tuple(
                (path.name, stat.st_mtime_ns, stat.st_size)
                for path, stat in ((path, path.stat()) for path in self._watched_paths())
            )
        except FileNotFoundError:  # a file went away while the folder was listed: look again next time
            return True
        if signature == self._signature:
            return False
        self._signature = signature
        return True

    def funnel_path(self, funnel_id: str) -> Path:
        return self.funnels_dir / f"{funnel_id}.yaml"

    def write_funnel(self, funnel: FunnelDefinition) -> Path:
        """Write atomically, so a worker reading the folder never sees half a file."""
        self.funnels_dir.mkdir(parents=True, exist_ok=True)
        path = self.funnel_path(funnel.funnel_id)
        draft = path.with_suffix(".yaml.tmp")
        draft.write_text(funnel_yaml(funnel), encoding="utf-8")
        draft.replace(path)
        return path

    def _watched_paths(self) -> Iterator[Path]:
        yield from self._funnel_paths()
        if self.profiles_dir.is_dir():
            yield from sorted(self.profiles_dir.glob("*.yaml"))

    def _funnel_paths(self) -> Iterator[Path]:
        if self.funnels_dir.is_dir():
            yield from sorted(self.funnels_dir.glob("*.yaml"))
