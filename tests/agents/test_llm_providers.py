"""Tests of agents/llm: the real anthropic SDK against the local fake Messages API, and the offline provider.

Needs Django settings, never a database or the real API (the fake_anthropic fixture
comes from tests.fakes.anthropic_fixtures).
"""
from __future__ import annotations

import json

import anthropic
import pytest

from agents.llm import LLMUnavailable, ToolCall, get_provider
from agents.llm.anthropic_provider import AnthropicProvider
from agents.llm.offline import OfflineProvider
from tests.fakes.anthropic_server import (
    reply_error,
    reply_message,
    reply_text,
    reply_tool_use,
    text_block,
    tool_use_block,
)

FAST = 0.001  # seconds of retry-after: the SDK ignores 0 and would back off for 0.5 s or more
USER_TURN = [{"role": "user", "content": "What is on Hacker News?"}]
HTTP_TOOL = {
    "name": "http_get",
    "description": "Fetch a URL and return its body.",
    "input_schema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
}


def ask(provider, **kwargs):
    kwargs.setdefault("system", "You are a careful agent.")
    kwargs.setdefault("messages", USER_TURN)
    return provider.complete(**kwargs)


# -- anthropic over the wire ----------------------------------------------------------

def test_text_reply_carries_text_usage_and_the_default_model(fake_anthropic, settings):
    fake_anthropic.enqueue(reply_text("Three stories about Rust.", input_tokens=42, output_tokens=7))

    response = ask(get_provider())

    assert response.text == "Three stories about Rust."
    assert (response.input_tokens, response.output_tokens, response.tokens) == (42, 7, 49)
    assert response.stop_reason == "end_turn"
    assert response.tool_calls == []
    [sent] = fake_anthropic.requests
    assert sent.json["model"] == settings.AGENT_DEFAULT_MODEL == response.model
    assert sent.json["system"] == "You are a careful agent."
    assert sent.json["messages"] == USER_TURN
    assert sent.json["max_tokens"] == 1024
    assert "tools" not in sent.json
    assert sent.api_key == "sk-test-fake"
    assert sent.headers["anthropic-version"]


def test_the_tasks_model_overrides_the_default(fake_anthropic):
    fake_anthropic.enqueue(reply_text("ok"))

    response = ask(AnthropicProvider(), model="claude-haiku-4-5", max_tokens=200)

    assert fake_anthropic.requests[0].json["model"] == "claude-haiku-4-5"
    assert fake_anthropic.requests[0].json["max_tokens"] == 200
    assert response.model == "claude-haiku-4-5"


def test_tool_use_reply_becomes_tool_calls(fake_anthropic):
    fake_anthropic.enqueue(reply_tool_use("http_get", {"url": "https://news.ycombinator.com"},
                                          text="I will fetch the front page.", id="toolu_01"))

    response = ask(AnthropicProvider(), tools=[HTTP_TOOL])

    assert response.tool_calls == [ToolCall(id="toolu_01", name="http_get",
                                             input={"url": "https://news.ycombinator.com"})]
    assert response.text == "I will fetch the front page."
    assert response.stop_reason == "tool_use"


def test_parallel_tool_calls_keep_their_order(fake_anthropic):
    fake_anthropic.enqueue(reply_message(tool_use_block("http_get", {"url": "https://a.example"}, id="toolu_a"),
                                         tool_use_block("http_get", {"url": "https://b.example"}, id="toolu_b")))

    response = ask(AnthropicProvider(), tools=[HTTP_TOOL])

    assert [(c.id, c.input["url"]) for c in response.tool_calls] == [
        ("toolu_a", "https://a.example"), ("toolu_b", "https://b.example")]
    assert response.text == ""


def test_tool_schemas_reach_the_server_unchanged(fake_anthropic):
    search = {"name": "search", "description": "Search the web.",
              "input_schema": {"type": "object", "properties": {"q": {"type": "string"},
                                                                "limit": {"type": "integer", "minimum": 1}},
                               "required": ["q"]}}
    fake_anthropic.enqueue(reply_text("done"))

    ask(AnthropicProvider(), tools=[HTTP_TOOL, search])

    assert fake_anthropic.requests[0].json["tools"] == [HTTP_TOOL, search]


def test_a_failed_tool_goes_back_as_an_error_result_and_the_model_adapts(fake_anthropic):
    """Two ReAct turns: the responder sees the tool_result with is_error and answers it."""
    def responder(request):
        results = [b for m in request["messages"] if isinstance(m["content"], list)
                   for b in m["content"] if b.get("type") == "tool_result"]
        if not results:
            return reply_tool_use("http_get", {"url": "https://down.example"}, id="toolu_down")
        if results[-1].get("is_error"):
            return reply_text("The site is down; I will report that instead.")
        return reply_text("Fetched it.")

    fake_anthropic.responder = responder
    provider = AnthropicProvider()
    first = ask(provider, tools=[HTTP_TOOL])
    call = first.tool_calls[0]
    conversation = [
        *USER_TURN,
        {"role": "assistant", "content": [text_block("Fetching."),
                                          tool_use_block(call.name, call.input, id=call.id)]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                      "content": "connection refused", "is_error": True}]},
    ]
    second = ask(provider, tools=[HTTP_TOOL], messages=conversation)

    assert second.text == "The site is down; I will report that instead."
    assert fake_anthropic.requests[1].tool_results() == [
        {"type": "tool_result", "tool_use_id": "toolu_down", "content": "connection refused", "is_error": True}]


def test_a_tool_use_left_unanswered_is_refused_as_the_api_does(fake_anthropic):
    conversation = [
        *USER_TURN,
        {"role": "assistant", "content": [tool_use_block("http_get", {"url": "https://x.example"}, id="toolu_x")]},
        {"role": "user", "content": "go on"},
    ]
    fake_anthropic.enqueue(reply_text("never sent"))

    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(AnthropicProvider(), tools=[HTTP_TOOL], messages=conversation)

    assert "toolu_x" in caught.value.api_message
    assert fake_anthropic.pending == 1


def test_a_request_without_messages_gets_the_documented_400(fake_anthropic):
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(AnthropicProvider(), messages=[])

    assert caught.value.type == "invalid_request_error"
    assert caught.value.body["type"] == "error"
    assert "messages" in caught.value.api_message
    assert len(fake_anthropic.requests) == 1


def test_rate_limit_with_retry_after_is_retried(fake_anthropic):
    fake_anthropic.enqueue(reply_error(429, "rate_limit_error", "slow down", retry_after=FAST),
                           reply_text("after the wait"))

    response = ask(AnthropicProvider())

    assert response.text == "after the wait"
    first, second = fake_anthropic.requests
    assert [first.status, second.status] == [429, 200]
    assert [first.headers["x-stainless-retry-count"], second.headers["x-stainless-retry-count"]] == ["0", "1"]
    # the SDK honoured retry-after-ms rather than its own backoff (0.375 s at least)
    assert second.received_at - first.received_at < 0.3


def test_server_error_is_retried(fake_anthropic):
    fake_anthropic.enqueue(reply_error(500, "api_error", "boom", retry_after=FAST), reply_text("recovered"))

    response = ask(AnthropicProvider())

    assert response.text == "recovered"
    assert [r.status for r in fake_anthropic.requests] == [500, 200]


def test_bad_request_is_raised_at_once(fake_anthropic):
    fake_anthropic.enqueue(reply_error(400, "invalid_request_error", "max_tokens: too large"),
                           reply_text("never sent"))

    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(AnthropicProvider())

    assert caught.value.status_code == 400
    assert caught.value.api_message == "max_tokens: too large"
    assert len(fake_anthropic.requests) == 1


def test_retries_stop_at_agent_max_retries(fake_anthropic, settings):
    settings.AGENT_MAX_RETRIES = 1
    fake_anthropic.enqueue(reply_error(500, "api_error", "boom 1", retry_after=FAST),
                           reply_error(500, "api_error", "boom 2", retry_after=FAST),
                           reply_text("too late"))

    with pytest.raises(anthropic.InternalServerError) as caught:
        ask(AnthropicProvider())

    assert caught.value.api_message == "boom 2"
    assert len(fake_anthropic.requests) == 2
    assert fake_anthropic.pending == 1


def test_x_should_retry_false_is_obeyed(fake_anthropic):
    fake_anthropic.enqueue(reply_error(529, "overloaded_error", "Overloaded", should_retry=False),
                           reply_text("never sent"))

    with pytest.raises(anthropic.OverloadedError):
        ask(AnthropicProvider())

    assert len(fake_anthropic.requests) == 1


def test_an_exhausted_script_fails_clearly_without_retries(fake_anthropic):
    with pytest.raises(anthropic.InternalServerError) as caught:
        ask(AnthropicProvider())

    assert "script exhausted" in caught.value.api_message
    assert len(fake_anthropic.requests) == 1


def test_a_wrong_key_is_an_authentication_error(fake_anthropic, settings):
    settings.ANTHROPIC_API_KEY = "sk-wrong"
    fake_anthropic.enqueue(reply_text("never sent"))

    with pytest.raises(anthropic.AuthenticationError):
        ask(AnthropicProvider())

    assert fake_anthropic.requests[0].api_key == "sk-wrong"


def test_summarize_asks_the_model_with_the_content(fake_anthropic):
    fake_anthropic.enqueue(reply_text("- Rust 2.0 is out"))

    response = AnthropicProvider().summarize([{"title": "Rust 2.0", "score": 900}], instructions="Be brief.")

    assert response.text == "- Rust 2.0 is out"
    prompt = fake_anthropic.requests[0].json["messages"][0]["content"]
    assert prompt.startswith("Be brief.") and "Rust 2.0" in prompt


def test_anthropic_without_a_key_is_unavailable(settings):
    settings.ANTHROPIC_API_KEY = ""

    with pytest.raises(LLMUnavailable, match="ANTHROPIC_API_KEY"):
        AnthropicProvider()


# -- offline --------------------------------------------------------------------------

HN_ITEMS = [
    {"id": 1, "title": "Show HN: A tiny database", "score": 312, "by": "alice", "descendants": 88,
     "url": "https://example.com/db"},
    {"id": 2, "title": "Why SQLite is everywhere", "score": 150, "by": "bob", "descendants": 40},
    {"id": 3, "title": "Ask HN: Favourite editors?", "by": "carol",
     "text": "Which editor do you use. And why?"},
]


def test_offline_summary_is_deterministic_and_says_it_is_offline():
    first = OfflineProvider().summarize(HN_ITEMS)
    second = OfflineProvider().summarize(json.loads(json.dumps(HN_ITEMS)))

    assert first == second
    for item in HN_ITEMS:
        assert item["title"] in first.text
    assert "312 points" in first.text and "by alice" in first.text and "88 comments" in first.text
    assert "https://example.com/db" in first.text
    assert "offline" in first.text.lower()
    assert first.model == "offline"


def test_offline_summary_reads_json_text_and_caps_long_lists():
    items = [{"title": f"Story {n}"} for n in range(25)]

    from_text = OfflineProvider().summarize(json.dumps(items))

    assert from_text == OfflineProvider().summarize(items)
    assert "Story 19" in from_text.text and "Story 20" not in from_text.text
    assert "5 more" in from_text.text


def test_offline_summary_of_prose_keeps_the_first_sentences():
    text = "One. Two! Three? Four."

    response = OfflineProvider().summarize(text)

    assert response.text.startswith("One. Two! Three?")
    assert "Four" not in response.text
    assert "offline" in response.text.lower()


def test_offline_complete_refuses_and_names_the_key():
    with pytest.raises(LLMUnavailable, match="ANTHROPIC_API_KEY"):
        ask(OfflineProvider())


def test_get_provider_follows_the_setting(settings):
    settings.AGENT_LLM_PROVIDER = "offline"
    assert isinstance(get_provider(), OfflineProvider)

    settings.AGENT_LLM_PROVIDER = "gpt-local"
    with pytest.raises(LLMUnavailable, match="gpt-local"):
        get_provider()


def test_get_provider_by_name_overrides_the_setting(fake_anthropic, settings):
    assert isinstance(get_provider(), AnthropicProvider)
    assert isinstance(get_provider("offline"), OfflineProvider)
