"""The built-in catalog plugins: one zero-argument function per domain.

They are registered in ``pyproject.toml`` under the same entry-point groups a third-party
package uses (``llmcatalog.models``, ``llmcatalog.gpus``, ``llmcatalog.tools``) and read the
TOML files in ``llmcatalog/data/``. Calling one directly returns that domain's entries as
written in its file; the catalog resolves lineage (inherited architectures) across domains.
"""

from __future__ import annotations

from importlib.resources import files

from ..values.gpu import GPU
from ..values.model import Model
from ..values.tool import Tool
from .plugins import load_toml

__all__ = [
    "DOMAINS",
    "builtin_gpus",
    "builtin_tools",
    "domain_models",
]  # plus one function per domain, named like the domain with "-" -> "_"

#: Domains shipped with llmcatalog, each with its own plugin and data file ``data/<domain>/models.toml``.
DOMAINS = (
    "general",
    "medical",
    "finance",
    "legal",
    "code",
    "education",
    "math",
    "science",
    "sci-tech",
    "agriculture",
    "media",
    "e-commerce",
    "cybersecurity",
    "transport",
    "story-generation",
    "music-generation",
    "evaluation",
    "devops",
    "public-opinion",
    "multimodal",
    "diffusion",
    "audio",
)


def domain_models(domain: str) -> tuple[Model, ...]:
    """The models of one built-in domain, as written in its data file."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown built-in domain {domain!r}; built-in domains: {', '.join(DOMAINS)}")
    entries = load_toml(files("llmcatalog.registry.data").joinpath(domain, "models.toml"))
    return entries["models"]


def builtin_gpus() -> tuple[GPU, ...]:
    """The GPUs shipped with llmcatalog."""
    return load_toml(files("llmcatalog.registry.data").joinpath("gpus", "gpus.toml"))["gpus"]


def builtin_tools() -> tuple[Tool, ...]:
    """The tools shipped with llmcatalog."""
    return load_toml(files("llmcatalog.registry.data").joinpath("tools", "tools.toml"))["tools"]


def general() -> tuple[Model, ...]:
    """Built-in plugin: general base and chat models, and the leading closed models."""
    return domain_models("general")


def medical() -> tuple[Model, ...]:
    """Built-in plugin: medical models.

    Chinese and English dialogue, TCM, mental health, biomedical, chest X-ray, child companionship.
    """
    return domain_models("medical")


def finance() -> tuple[Model, ...]:
    """Built-in plugin: finance models."""
    return domain_models("finance")


def legal() -> tuple[Model, ...]:
    """Built-in plugin: legal models."""
    return domain_models("legal")


def code() -> tuple[Model, ...]:
    """Built-in plugin: code models."""
    return domain_models("code")


def education() -> tuple[Model, ...]:
    """Built-in plugin: education models."""
    return domain_models("education")


def math() -> tuple[Model, ...]:
    """Built-in plugin: math models."""
    return domain_models("math")


def science() -> tuple[Model, ...]:
    """Built-in plugin: science models (chemistry, geoscience, plant science, astronomy, oceanography)."""
    return domain_models("science")


def sci_tech() -> tuple[Model, ...]:
    """Built-in plugin: sci-tech literature and multi-domain technology models."""
    return domain_models("sci-tech")


def agriculture() -> tuple[Model, ...]:
    """Built-in plugin: agriculture models."""
    return domain_models("agriculture")


def media() -> tuple[Model, ...]:
    """Built-in plugin: self-media models."""
    return domain_models("media")


def e_commerce() -> tuple[Model, ...]:
    """Built-in plugin: e-commerce models."""
    return domain_models("e-commerce")


def cybersecurity() -> tuple[Model, ...]:
    """Built-in plugin: cyber-security models."""
    return domain_models("cybersecurity")


def transport() -> tuple[Model, ...]:
    """Built-in plugin: transport models."""
    return domain_models("transport")


def story_generation() -> tuple[Model, ...]:
    """Built-in plugin: story-generation models."""
    return domain_models("story-generation")


def music_generation() -> tuple[Model, ...]:
    """Built-in plugin: music-generation models."""
    return domain_models("music-generation")


def evaluation() -> tuple[Model, ...]:
    """Built-in plugin: evaluation (LLM-as-judge) models."""
    return domain_models("evaluation")


def devops() -> tuple[Model, ...]:
    """Built-in plugin: DevOps models."""
    return domain_models("devops")


def public_opinion() -> tuple[Model, ...]:
    """Built-in plugin: public-opinion and public-safety models."""
    return domain_models("public-opinion")


def multimodal() -> tuple[Model, ...]:
    """Built-in plugin: multimodal models (vision-, video- and audio-language)."""
    return domain_models("multimodal")


def diffusion() -> tuple[Model, ...]:
    """Built-in plugin: image and audio diffusion models."""
    return domain_models("diffusion")


def audio() -> tuple[Model, ...]:
    """Built-in plugin: speech representation models."""
    return domain_models("audio")
