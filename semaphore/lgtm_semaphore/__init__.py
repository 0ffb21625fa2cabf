"""The lgtm Semaphore project as code.

definition  loads and checks semaphore/project.json (our own, name-referenced format)
client      talks to Semaphore's REST API (auth, errors, the create-response quirks)
reconcile   makes a server match the definition: find by name, then create or update
backup      renders the definition as a project backup that /api/projects/restore accepts

Python 3 standard library only, so the tools run on any Debian host without pip.
"""
