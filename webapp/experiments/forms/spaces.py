"""The space document form: the text (pasted or uploaded) and the size its preview is counted at. Only parsing
here; what a document must be is :func:`webapp.experiments.services.spaces.check`'s."""
from __future__ import annotations

from typing import Any

from django import forms

from webapp.experiments.services.spaces import MAX_CHANNELS, MAX_DOCUMENT, MAX_LAYERS


class SpaceDocumentForm(forms.Form):
    document = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false",
                                                                           "class": "code"}),
                               help_text="A space document in YAML or JSON (see the built-ins' exports).")
    upload = forms.FileField(required=False, label="Or upload a file",
                             help_text=".yaml, .yml or .json; it replaces the text above")
    channels = forms.IntegerField(required=False, min_value=1, max_value=MAX_CHANNELS,
                                  help_text="Initial channels the counts are made at (empty: the document's default)")
    layers = forms.IntegerField(required=False, min_value=1, max_value=MAX_LAYERS,
                                help_text="Cells the counts are made at (empty: the document's default)")
    of = forms.CharField(required=False, widget=forms.HiddenInput)

    def text(self) -> str:
        """The document: the uploaded file's text when there is one, else the text field."""
        upload = self.cleaned_data.get("upload")
        if upload:
            raw = upload.read(MAX_DOCUMENT + 1)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("upload", "the file is not UTF-8 text")
                return ""
        return (self.cleaned_data.get("document") or "").replace("\r\n", "\n")  # a browser posts a textarea's lines so

    def size(self) -> dict[str, Any]:
        return {"channels": self.cleaned_data.get("channels"), "layers": self.cleaned_data.get("layers")}
