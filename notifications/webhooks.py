"""Twilio webhooks: inbound texts and delivery reports, signature-checked."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import delivery, inbound, sms


def _signed(request: HttpRequest) -> bool:
    # Against the configured public URL: behind a proxy, request.build_absolute_uri()
    # is not what Twilio signed.
    url = settings.SITE_URL + request.get_full_path()
    signature = request.headers.get("X-Twilio-Signature", "")
    return sms.signature_is_valid(url, request.POST.dict(), signature)


@csrf_exempt
@require_POST
def inbound_sms(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("Invalid signature.")
    answer = inbound.reply_to(phone=request.POST.get("From", ""), text=request.POST.get("Body", ""))
    return HttpResponse(sms.twiml_reply(answer), content_type="text/xml")


@csrf_exempt
@require_POST
def delivery_status(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("Invalid signature.")
    delivery.update_delivery_status(
        provider_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
    )
    return HttpResponse(status=204)
