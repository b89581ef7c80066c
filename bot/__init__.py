"""SkillSpark: helps members of supported-living networks find and share their skills."""
