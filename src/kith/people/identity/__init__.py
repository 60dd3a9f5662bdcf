"""Identity resolution: is this the same person?

One service for create, import, listening and the merge screen. Probabilistic record
linkage (Fellegi–Sunter, trained m/u weights) with Splink over names, date of birth,
postal address, e-mails, phones, social handles and organisation.

* :mod:`.features` — a person as a flat, cleaned row (no engine import);
* :mod:`.model` — the Splink model: training, prediction, clustering (imported lazily);
* :mod:`.models` — trained models and match suggestions in the database;
* :mod:`.service` — training runs, suggestions, decisions, ``match_candidates``.
"""
