"""Manifest stage: find, load and validate dbowner.yaml; answer who owns a table."""
from .loader import ManifestError, find_manifest, load_manifest, manifest_schema
from .model import Manifest, RulesConfig, SagaSpec, SagaStepRef, Service, TablePattern

__all__ = ["Manifest", "ManifestError", "RulesConfig", "SagaSpec", "SagaStepRef", "Service", "TablePattern",
           "find_manifest", "load_manifest", "manifest_schema"]
