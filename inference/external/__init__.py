"""Models that live outside this repository: a local diffusers pipeline folder
(``diffusers_model``) and a model served over HTTP (``http_model``). No Django here."""
