"""Admin for the campaigns' data: contacts (edited through tasks_app.contacts) and the delivery ledger (read-only)."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import contacts
from .agent_data import Contact, Delivery


def _wire(data: dict[str, Any]) -> dict[str, Any]:
    day = data.get("signup_date")
    return {"email": data.get("email") or "", "name": data.get("name") or "",
            "signupDate": day.isoformat() if day else None, "plan": data.get("plan") or "",
            "attributes": data.get("attributes") or {}, "unsubscribed": bool(data.get("unsubscribed"))}


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ("owner", "email", "name", "signup_date", "plan", "attributes", "unsubscribed")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            contacts.clean(_wire(data))  # the same rules as the API and the CSV import
        except contacts.ContactError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    list_display = ("email", "name", "plan", "signup_date", "unsubscribed", "owner", "updated_at")
    list_filter = ("plan", "unsubscribed")
    search_fields = ("email", "name")
    date_hierarchy = "signup_date"
    actions = ["unsubscribe"]

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        values = contacts.clean(_wire(form.cleaned_data))
        if change:
            contacts.update(contact=Contact.objects.get(pk=obj.pk), data=_wire(form.cleaned_data))
        else:
            obj.pk = contacts.upsert(owner_id=form.cleaned_data["owner"].id, values=values)[0].pk

    @admin.action(description="Unsubscribe the selected contacts")
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        for contact in queryset:
            contacts.update(contact=contact, data={"unsubscribed": True})
        self.message_user(request, f"{queryset.count()} contact(s) unsubscribed", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The campaign ledger: who was mailed for which occasion (sending = began, outcome unknown)."""

    list_display = ("recipient", "occasion", "status", "task", "run", "sent_at", "owner")
    list_filter = ("status",)
    search_fields = ("recipient", "occasion", "task__id")
    readonly_fields = ("owner", "task", "contact", "recipient", "occasion", "run", "status", "message_id", "error",
                       "created_at", "sent_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
