"""Verified submissions: rows anyone can add to a board by pull request, counted once a re-run of a
seed the verifier draws gives the same numbers (docs/submitting.md).

``ffbench submit RESULTS --name NAME`` writes ``submissions/NAME/`` (rows and a manifest with
content hashes); ``ffbench verify submissions/NAME`` checks it and writes ``verification.json``;
``ffbench leaderboard update submissions/NAME`` merges the verified rows, marked so.

One job per module: :mod:`.canonical` (row hashes, names), :mod:`.manifest` (building and reading
the manifest), :mod:`.folder` (the folder's files, read as untrusted input), :mod:`.checks` (what a
submission refuses), :mod:`.submit`, :mod:`.integrity` (manifest vs rows, naming the tampering),
:mod:`.dists` (plugin versions), :mod:`.rerun`, :mod:`.tolerance`, :mod:`.compare`, :mod:`.verify`,
:mod:`.record` (the verification record) and :mod:`.board` (rows for ``leaderboard update``).
"""
