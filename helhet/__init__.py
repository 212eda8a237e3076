"""Helhet: services for people with co-occurring substance use and mental disorders."""
