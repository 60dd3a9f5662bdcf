"""Writing an e-mail to a person from their page (thin: access, form, service)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kith.core.errors import KithError, ValidationFailed
from kith.mail import access, services
from kith.mail.forms import ComposeForm, UseTemplateForm
from kith.mail.models import EmailTemplate
from kith.web.decorators import staff_view


@staff_view
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Write and send an e-mail to a person; ``?template=`` fills subject and body."""
    person = access.get_person_to_email(request.user, public_id)
    addresses = services.email_addresses(person)
    templates = EmailTemplate.objects.all()
    chosen = None
    template_error = ""
    raw = request.GET.get("template", "") if request.method == "GET" else ""
    if raw:
        try:
            chosen = access.get_template(request.user, raw)
        except KithError:
            template_error = "No such template."
    initial: dict = {"to": addresses[0] if addresses else ""}
    if chosen is not None:
        subject, body = services.render_template(actor=request.user, template=chosen, person=person)
        initial.update(subject=subject, body=body, template=chosen.public_id)
    form = ComposeForm(request.POST or None, initial=initial, addresses=addresses)
    status = 200 if not template_error else 422
    if request.method == "POST":
        status = 422
        if form.is_valid():
            cd = form.cleaned_data
            template = None
            if cd["template"]:
                template = EmailTemplate.objects.filter(public_id=cd["template"]).first()
            try:
                services.send_email(
                    actor=request.user,
                    person=person,
                    to=cd["to"],
                    subject=cd["subject"],
                    body=cd["body"],
                    template=template,
                )
            except ValidationFailed as exc:
                for error in exc.errors:
                    form.add_error(
                        error.field if error.field in form.fields else None, error.message
                    )
            else:
                messages.success(request, f"E-mail to {cd['to']} is on its way.")
                return redirect("people:person", public_id=person.public_id)
    pick = UseTemplateForm(
        initial={"template": str(chosen.public_id) if chosen else ""}, templates=templates
    )
    return render(
        request,
        "mail/compose.html",
        {
            "nav": "people",
            "person": person,
            "form": form,
            "pick": pick,
            "template_error": template_error,
            "has_address": bool(addresses),
        },
        status=status,
    )
