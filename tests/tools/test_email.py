"""email.send by SMTP (a real aiosmtpd sink) and through the Gmail API (the local fake Google)."""
from __future__ import annotations

import base64
import logging
import re

import pytest

from tools.email import tool
from tools.errors import ToolError, ToolInputError
from tools.outbound_ids import message_id

PDF_BYTES = b"%PDF-1.4\n\x00\x01\x02\xff binary \r\n stuff"


def send(params, context):
    return tool.actions["send"].run(params, context)


@pytest.fixture
def context(tool_context, tmp_path):
    tool_context.artifacts_dir = tmp_path / "artifacts"
    tool_context.artifacts_dir.mkdir()
    return tool_context


def test_smtp_delivers_personalized_message_with_attachments(smtp_sink, context):
    (context.artifacts_dir / "report.csv").write_text("name,score\nAda,10\n")
    result = send({
        "to": ["ada@example.com"], "cc": "bob@example.com",
        "subject": "Your report, {{ name }}",
        "template": "Hello {{name}},\nyour plan is {{ plan }} with {{ seats }} seats.",
        "personalization": {"name": "Ada", "plan": "Pro", "seats": 3},
        "attachments": [
            {"filename": "invoice.pdf", "contentBase64": base64.b64encode(PDF_BYTES).decode(),
             "mimeType": "application/pdf"},
            {"path": str(context.artifacts_dir / "report.csv")},
        ],
    }, context)

    assert len(smtp_sink.messages) == 1
    assert sorted(smtp_sink.envelopes[0].rcpt_tos) == ["ada@example.com", "bob@example.com"]
    message = smtp_sink.messages[0]
    assert message["Subject"] == "Your report, Ada"
    assert message["To"] == "ada@example.com" and message["Cc"] == "bob@example.com"
    assert message.get_body(("plain",)).get_content().strip() == "Hello Ada,\nyour plan is Pro with 3 seats."
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert files["invoice.pdf"].get_content() == PDF_BYTES
    assert files["invoice.pdf"].get_content_type() == "application/pdf"
    assert files["report.csv"].get_content() == "name,score\nAda,10\n"
    assert message["Message-ID"] == message_id("task:t-test:run:1:step:1") == result["messageId"]
    assert result["provider"] == "smtp" and result["sent"] == 1
    assert tool.actions["send"].side_effect.value == "irreversible"
    assert tool.actions["send"].credits == 10


def test_plain_body_is_sent_as_written_without_personalization(smtp_sink, context):
    send({"to": "ada@example.com", "subject": "Code", "body": "Use {{ braces }} literally"}, context)
    assert smtp_sink.messages[0].get_content().strip() == "Use {{ braces }} literally"


def test_missing_template_field_is_a_clear_error_and_nothing_is_sent(smtp_sink, context):
    with pytest.raises(ToolInputError, match="template field 'plan' has no value in personalization"):
        send({"to": "ada@example.com", "subject": "Hi {{ name }}", "template": "Plan: {{ plan }}",
              "personalization": {"name": "Ada"}}, context)
    with pytest.raises(ToolInputError, match="subject: template field 'name'"):
        send({"to": "ada@example.com", "subject": "Hi {{ name }}", "template": "x"}, context)
    assert smtp_sink.messages == []


def test_placeholders_cannot_reach_attributes_or_indexes(smtp_sink, context):
    for placeholder in ("{{ name.__class__ }}", "{{ name[0] }}", "{{ name | upper }}"):
        with pytest.raises(ToolInputError, match="not a plain field name"):
            send({"to": "ada@example.com", "subject": "x", "template": placeholder,
                  "personalization": {"name": "Ada"}}, context)
    assert smtp_sink.messages == []


def test_attachment_outside_the_artifacts_directory_is_refused(smtp_sink, context, tmp_path):
    (tmp_path / "secret.txt").write_text("not yours")
    (context.artifacts_dir / "link.txt").symlink_to(tmp_path / "secret.txt")
    for path in (str(tmp_path / "secret.txt"), "../secret.txt", "link.txt", "/etc/passwd"):
        with pytest.raises(ToolInputError, match="outside the task's artifacts directory"):
            send({"to": "ada@example.com", "subject": "x", "body": "y", "attachments": [{"path": path}]}, context)
    assert smtp_sink.messages == []


def test_attachments_over_the_size_cap_are_refused(smtp_sink, context, settings):
    settings.EMAIL_MAX_ATTACHMENT_BYTES = 1000
    big = base64.b64encode(b"x" * 1500).decode()
    with pytest.raises(ToolInputError, match="larger than the 1000-byte limit"):
        send({"to": "ada@example.com", "subject": "x", "body": "y",
              "attachments": [{"filename": "big.bin", "contentBase64": big}]}, context)
    (context.artifacts_dir / "a.bin").write_bytes(b"a" * 600)
    with pytest.raises(ToolInputError, match="larger than"):
        send({"to": "ada@example.com", "subject": "x", "body": "y",
              "attachments": [{"path": "a.bin"}, {"path": "a.bin"}]}, context)
    assert smtp_sink.messages == []


def test_gmail_provider_sends_through_the_api_with_the_bearer_token(google_server, context):
    creds = google_server.credentials()
    context.credentials = {"google": creds, "email_provider": "gmail"}
    result = send({
        "to": ["ada@example.com"], "subject": "Welcome {{ name }}", "template": "Hi {{ name }}!",
        "personalization": {"name": "Ada"},
        "attachments": [{"filename": "invoice.pdf", "contentBase64": base64.b64encode(PDF_BYTES).decode()}],
    }, context)

    assert len(google_server.sent) == 1
    message = google_server.sent[0]
    assert message["Subject"] == "Welcome Ada" and message["To"] == "ada@example.com"
    assert message["From"] == "owner@example.com"  # the connected account
    assert message["Message-ID"] == message_id("task:t-test:run:1:step:1")
    assert message.get_body(("plain",)).get_content().strip() == "Hi Ada!"
    assert [p.get_content() for p in message.iter_attachments()] == [PDF_BYTES]
    call = google_server.api_requests()[0]
    assert (call.method, call.path) == ("POST", "/gmail/v1/users/me/messages/send")
    assert call.bearer == creds["token"]
    assert result["provider"] == "gmail" and result["gmailId"] and result["threadId"]
    assert creds["token"] not in str(result) and creds["refresh_token"] not in str(result)


def test_explicit_provider_overrides_the_user_setting(smtp_sink, google_server, context):
    context.credentials = {"google": google_server.credentials(), "email_provider": "gmail"}
    send({"to": "ada@example.com", "subject": "s", "body": "b", "provider": "smtp"}, context)
    assert len(smtp_sink.messages) == 1 and google_server.sent == []


def test_gmail_refreshes_an_expired_token_and_uses_the_new_one(google_server, context):
    creds = google_server.credentials(expired=True)
    context.credentials = {"google": dict(creds)}
    result = send({"to": "ada@example.com", "subject": "s", "body": "b", "provider": "gmail"}, context)

    assert len(google_server.token_grants) == 1
    assert google_server.token_grants[0]["refresh_token"] == creds["refresh_token"]
    new_token = context.credentials["google"]["token"]
    assert new_token != creds["token"] and new_token in google_server.access_tokens
    assert google_server.api_requests()[0].bearer == new_token
    assert len(google_server.sent) == 1
    assert new_token not in str(result) and creds["refresh_token"] not in str(result)


def test_gmail_without_a_google_account_is_a_clear_error(context):
    with pytest.raises(ToolError, match="email via Gmail needs a connected Google account"):
        send({"to": "ada@example.com", "subject": "s", "body": "b", "provider": "gmail"}, context)


def test_revoked_gmail_access_asks_to_reconnect_without_leaking_tokens(google_server, context, caplog):
    creds = google_server.credentials()
    google_server.revoke(creds["token"], creds["refresh_token"])
    context.credentials = {"google": dict(creds), "email_provider": "gmail"}
    with caplog.at_level(logging.DEBUG), pytest.raises(ToolError, match="must be reconnected") as error:
        send({"to": "ada@example.com", "subject": "s", "body": "b"}, context)
    assert google_server.sent == []
    for secret in (creds["token"], creds["refresh_token"], creds["client_secret"]):
        assert secret not in str(error.value)
        assert secret not in caplog.text


def test_the_message_id_is_stable_per_step_and_reveals_no_task_id(smtp_sink, context):
    """Every recipient once read our task id and run number off the Message-ID."""
    for _ in range(2):  # a retry of the same step, if one ever happened
        send({"to": "ada@example.com", "subject": "x", "body": "y"}, context)
    context.idempotency_key = "task:t-test:run:1:step:2"
    send({"to": "ada@example.com", "subject": "x", "body": "y"}, context)

    first, retry, other = (str(m["Message-ID"]) for m in smtp_sink.messages)
    assert first == retry != other
    assert re.fullmatch(r"<[0-9a-f]{32}@xantuus>", first)
    assert "t-test" not in first and "task" not in first and "step" not in first


def test_messages_without_a_key_do_not_share_a_message_id(smtp_sink, context):
    context.idempotency_key = ""
    for _ in range(2):
        send({"to": "ada@example.com", "subject": "x", "body": "y"}, context)

    assert smtp_sink.messages[0]["Message-ID"] != smtp_sink.messages[1]["Message-ID"]


# --- who a message may be from (issue 16, 9) ---------------------------------------------------


def test_any_other_from_address_is_refused_naming_the_allowed_ones(smtp_sink, context, settings):
    """As found: email.send {"from": "ceo@bigbank.example"} went out as that sender."""
    settings.DEFAULT_FROM_EMAIL = "Xantuus <agent@xantuus.example>"
    with pytest.raises(ToolInputError) as refused:
        send({"to": "ada@example.com", "from": "ceo@bigbank.example", "subject": "Wire", "body": "Pay now"}, context)
    assert str(refused.value) == (
        "from 'ceo@bigbank.example' is not an address this task may send as; use one of: user@example.com, "
        "agent@xantuus.example (your own address may also go in replyTo)")
    assert smtp_sink.messages == []


def test_the_owners_own_address_and_the_default_sender_may_be_used(smtp_sink, context, settings):
    settings.DEFAULT_FROM_EMAIL = "Xantuus <agent@xantuus.example>"
    send({"to": "ada@example.com", "from": "User@Example.com", "subject": "Mine", "body": "b"}, context)
    send({"to": "ada@example.com", "from": "agent@xantuus.example", "subject": "Ours", "body": "b"}, context)
    send({"to": "ada@example.com", "replyTo": "user@example.com", "subject": "Default", "body": "b"}, context)
    mine, ours, default = smtp_sink.wait_for(3)
    assert mine["From"] == "User@example.com" and smtp_sink.envelopes[0].mail_from == "User@example.com"
    assert ours["From"] == "agent@xantuus.example"
    assert default["From"] == "Xantuus <agent@xantuus.example>" and default["Reply-To"] == "user@example.com"


def test_a_stranger_in_reply_to_is_refused_too(smtp_sink, context):
    with pytest.raises(ToolInputError, match=r"replyTo 'attacker@evil\.example' is not an address this task may"):
        send({"to": "ada@example.com", "replyTo": ["user@example.com", "attacker@evil.example"],
              "subject": "s", "body": "b"}, context)
    assert smtp_sink.messages == []


def test_the_gmail_account_is_a_sender_only_when_gmail_sends(smtp_sink, google_server, context):
    context.credentials = {"google": google_server.credentials(), "email_provider": "gmail"}
    send({"to": "ada@example.com", "from": "owner@example.com", "subject": "s", "body": "b"}, context)
    assert google_server.sent[0]["From"] == "owner@example.com"
    with pytest.raises(ToolInputError, match=r"from 'ceo@bigbank\.example' is not an address.*owner@example\.com"):
        send({"to": "ada@example.com", "from": "ceo@bigbank.example", "subject": "s", "body": "b"}, context)
    with pytest.raises(ToolInputError, match=r"from 'owner@example\.com' is not an address"):  # not by SMTP
        send({"to": "ada@example.com", "from": "owner@example.com", "subject": "s", "body": "b", "provider": "smtp"},
             context)
    assert len(google_server.sent) == 1 and smtp_sink.messages == []
