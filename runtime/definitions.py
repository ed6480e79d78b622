"""The definitions folder (``BEACON_DEFINITIONS_DIR``, ``config/`` by default): funnels and segments as YAML
files, one per definition, in ``funnels/<funnel_id>.yaml`` and ``segments/<segment_id>.yaml``; a site's own
customer journey in ``journeys/<site_id>.yaml`` and profile settings (RFM thresholds) in
``profiles/<site_id>.yaml``. Written by ``./beacon funnels|segments add`` or by hand (a ConfigMap in
Kubernetes), read by the stream worker, which notices changes while it runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from schemas.funnels import FunnelDefinition, funnel_yaml, load_funnel_file
from schemas.journeys import JourneyDefinition, load_journey_file
from schemas.profiles import InvalidProfileSettingsError, SiteProfileSettings, load_site_profile_settings
from schemas.segments import SegmentDefinition, load_segment_file, segment_yaml

FUNNELS_FOLDER = "funnels"
PROFILES_FOLDER = "profiles"
SEGMENTS_FOLDER = "segments"
JOURNEYS_FOLDER = "journeys"


@dataclass(frozen=True)
class FunnelFiles:
    funnels: tuple[FunnelDefinition, ...]
    problems: tuple[str, ...]  # files that were not used, and why


@dataclass(frozen=True)
class SegmentFiles:
    segments: tuple[SegmentDefinition, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class JourneyFiles:
    by_site: dict[str, JourneyDefinition]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class ProfileSettingsFiles:
    by_site: dict[str, SiteProfileSettings]
    problems: tuple[str, ...]


class DefinitionFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.funnels_dir = root / FUNNELS_FOLDER
        self.profiles_dir = root / PROFILES_FOLDER
        self.segments_dir = root / SEGMENTS_FOLDER
        self.journeys_dir = root / JOURNEYS_FOLDER
        self._signature: tuple[tuple[str, int, int], ...] | None = None

    def read_funnels(self) -> FunnelFiles:
        """Every valid funnel; an invalid file, or a second file with the same funnel id, is a problem."""
        funnels, problems = _read_all(self._paths(self.funnels_dir), load_funnel_file, lambda f: f.funnel_id, "funnel")
        return FunnelFiles(funnels, problems)

    def read_segments(self) -> SegmentFiles:
        """Every valid segment; an invalid file, or a second file with the same segment id, is a problem."""
        segments, problems = _read_all(
            self._paths(self.segments_dir), load_segment_file, lambda s: s.segment_id, "segment"
        )
        return SegmentFiles(segments, problems)

    def read_journeys(self) -> JourneyFiles:
        """Each site's own customer journey (``journeys/<site_id>.yaml``); the other sites have the default. Two
        files for one site are a problem."""
        journeys, problems = _read_all(
            self._paths(self.journeys_dir), load_journey_file, lambda journey: journey.site_id, "journey"
        )
        return JourneyFiles({journey.site_id: journey for journey in journeys}, problems)

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
                (str(path), stat.st_mtime_ns, stat.st_size)
                for path, stat in ((path, path.stat()) for path in self._watched_paths())
            )
        except FileNotFoundError:  # a file went away while the folder was listed: look again next time
            return True
        if signature == self._signature:
            return False
        self._signature = signature
        return True

    def forget_changes(self) -> None:
        """The next ``changed`` says True: read everything again (e.g. once a segment's topic exists)."""
        self._signature = None

    def funnel_path(self, funnel_id: str) -> Path:
        return self.funnels_dir / f"{funnel_id}.yaml"

    def write_funnel(self, funnel: FunnelDefinition) -> Path:
        return _write_atomically(self.funnel_path(funnel.funnel_id), funnel_yaml(funnel))

    def segment_path(self, segment_id: str) -> Path:
        return self.segments_dir / f"{segment_id}.yaml"

    def write_segment(self, segment: SegmentDefinition) -> Path:
        return _write_atomically(self.segment_path(segment.segment_id), segment_yaml(segment))

    def _watched_paths(self) -> Iterator[Path]:
        for folder in (self.funnels_dir, self.segments_dir, self.journeys_dir, self.profiles_dir):
            yield from self._paths(folder)

    @staticmethod
    def _paths(folder: Path) -> Iterator[Path]:
        if folder.is_dir():
            yield from sorted(folder.glob("*.yaml"))


Definition = TypeVar("Definition")


def _read_all(
    paths: Iterable[Path], load: Callable[[Path], Definition], id_of: Callable[[Definition], str], kind: str
) -> tuple[tuple[Definition, ...], tuple[str, ...]]:
    found: dict[str, Definition] = {}
    problems = []
    for path in paths:
        try:
            definition = load(path)
        except (ValueError, OSError, UnicodeDecodeError) as error:
            problems.append(str(error))
            continue
        if id_of(definition) in found:
            problems.append(f"{path}: {kind} {id_of(definition)!r} is already defined by another file")
            continue
        found[id_of(definition)] = definition
    return tuple(found.values()), tuple(problems)


def _write_atomically(path: Path, text: str) -> Path:
    """So that a worker reading the folder never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_suffix(".yaml.tmp")
    draft.write_text(text, encoding="utf-8")
    draft.replace(path)
    return path
