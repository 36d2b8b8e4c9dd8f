"""RFC 5545 export: institutional, per-UE and personal feeds, the manifest, publishing output/."""
