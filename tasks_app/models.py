"""The store: tasks, their step executions, events and metrics.

Only lifecycle.py writes Task.status; everything else goes through services or the
engine. Field names are the seed's (snake_case here, camelCase on the wire).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from .ids import new_id


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    QUEUED = "queued"  # a run was asked for; it waits for a free slot (concurrency limits)
    PLANNING = "planning"
    EXECUTING = "executing"
    PAUSED = "paused"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Priority(models.TextChoices):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class StepStatus(models.TextChoices):
    PENDING = "pending"  # a parallel plan's step handed to a worker, not started yet (agents/fanout.py)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")

    # Basic info
    title = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)

    # Agent configuration
    agent_type = models.CharField(max_length=50, null=True, blank=True)
    agent_model = models.CharField(max_length=100, null=True, blank=True)
    agent_config = models.JSONField(null=True, blank=True)

    # Execution plan
    plan = models.JSONField(null=True, blank=True)
    plan_tokens = models.IntegerField(default=0)
    plan_credits = models.IntegerField(default=0)

    # Execution tracking
    attempts = models.IntegerField(default=0)  # how many runs were started
    current_step = models.IntegerField(default=0)  # steps finished in the current run
    total_steps = models.IntegerField(default=0)
    tool_calls = models.IntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    # Results and state
    result = models.JSONField(null=True, blank=True)
    execution_trace = models.JSONField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)

    # Resource usage
    total_tokens = models.IntegerField(default=0)
    total_credits = models.IntegerField(default=0)
    execution_time = models.IntegerField(default=0)  # milliseconds
    # every earlier run's totals (the current run's are above): a new run rolls its predecessor's in
    lifetime_tokens = models.BigIntegerField(default=0)
    lifetime_credits = models.BigIntegerField(default=0)
    lifetime_execution_time = models.BigIntegerField(default=0)  # milliseconds
    # the most credits one run may spend (None: only the owner's balance limits it); a step that
    # would go over it pauses the task with pause_reason "credit_limit" (agents/credits.py)
    credit_budget = models.PositiveIntegerField(null=True, blank=True)
    pause_reason = models.CharField(max_length=30, blank=True, default="")  # why it is paused ("": by a person)

    # Lease: the worker holding it runs the next step; a lapsed lease is swept.
    lease_owner = models.CharField(max_length=64, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)  # when the current run asked for a slot
    tool_state = models.JSONField(default=dict, blank=True)  # tools' per-task state (browser session)
    event_seq = models.IntegerField(default=0)  # last per-task event sequence number

    # Metadata
    due_date = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)  # list of strings, on SQLite and PostgreSQL

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["user"]),
            models.Index(fields=["project"]),
            models.Index(fields=["user", "status"]),
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["status", "priority"]),  # queue polling
            models.Index(fields=["status", "lease_expires_at"]),  # the sweeper
            models.Index(fields=["status", "queued_at"]),
            # admission: the waiting runs of one priority in arrival order (agents/admission.py _waiting)
            models.Index(fields=["priority", "queued_at", "created_at"], condition=models.Q(status="queued"),
                         name="task_admission_queue"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"


class TaskExecution(models.Model):
    """One step of one run. Unique per (task, run, step): a redelivered message finds it."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="executions")
    run = models.IntegerField(default=1)
    step = models.IntegerField()
    action = models.CharField(max_length=100)
    tool = models.CharField(max_length=50, null=True, blank=True)
    input = models.JSONField(default=dict)
    output = models.JSONField(null=True, blank=True)
    reasoning = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=StepStatus.choices)
    error = models.TextField(null=True, blank=True)
    side_effect = models.CharField(max_length=20, default="read")
    idempotency_key = models.CharField(max_length=120)
    attempts = models.IntegerField(default=0)  # transient failures retried so far
    tokens = models.IntegerField(default=0)
    credits = models.IntegerField(default=0)
    duration = models.IntegerField(default=0)  # milliseconds
    # how to undo what this step changed, recorded by the engine from the tool's own channel
    # (never read from the tool's output, which may hold data an outside server wrote)
    compensation = models.JSONField(null=True, blank=True)
    plan_version = models.IntegerField(default=1)  # the PlanVersion of its run it ran from
    trace_entry = models.JSONField(null=True, blank=True)  # its entry in the run's trace (agents/trace.py)
    # a parallel plan's step is claimed like a task's lease (tasks_app/step_claims.py): who runs it, until when
    claim_owner = models.CharField(max_length=120, null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["task", "step"]), models.Index(fields=["task", "created_at"]),
                   models.Index(fields=["action", "completed_at"])]  # estimates read recent steps of an action
        constraints = [models.UniqueConstraint(fields=["task", "run", "step"], name="one_row_per_step")]
        ordering = ["run", "step"]

    def __str__(self) -> str:
        return f"{self.task_id} run {self.run} step {self.step}: {self.action}"


class TaskEvent(models.Model):
    """Every published event, numbered per task, so a client can ask for what it missed."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    seq = models.IntegerField()
    type = models.CharField(max_length=30)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "seq"], name="one_event_per_seq")]
        ordering = ["task", "seq"]


class AgentMetrics(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    agent_type = models.CharField(max_length=50)
    tasks_completed = models.IntegerField(default=0)
    tasks_failed = models.IntegerField(default=0)
    total_tokens = models.IntegerField(default=0)
    total_credits = models.IntegerField(default=0)
    avg_duration = models.IntegerField(default=0)  # milliseconds
    success_rate = models.FloatField(default=0)  # 0-100
    date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent_type", "date"], name="one_metrics_row_per_day")]
        indexes = [models.Index(fields=["agent_type"]), models.Index(fields=["date"])]
        verbose_name_plural = "agent metrics"


class Credential(models.Model):
    """A user's secret for an outside service (Google OAuth tokens ...), encrypted at rest.

    Read and written only through tasks_app.credentials; never serialized into traces,
    events, logs or API responses.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credentials")
    provider = models.CharField(max_length=50)  # "google", "email" ...
    ciphertext = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "provider"], name="one_credential_per_provider")]

    def __str__(self) -> str:
        return f"{self.provider} credential of user {self.user_id}"


# --- The durable queue: notifications, approvals, dead letters, circuit breakers. ----------


class Notification(models.Model):
    """What a user is told: a run completed or failed, or a person must decide something."""

    class Kind(models.TextChoices):
        COMPLETED = "completed"
        FAILED = "failed"
        APPROVAL_NEEDED = "approval_needed"
        CREDIT_LIMIT = "credit_limit"  # a step would exceed the task's budget or the balance

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.TextField()
    read = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "read", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"


class Approval(models.Model):
    """A question for a person before (policy, checkpoint, the agent's own question) or after
    (unknown outcome) a step's action. A policy approval is bound to the exact call: its
    action and the hash of its full input; the input shown is redacted, the one that runs
    (the model's decision, an edit) is kept sealed (tools/sealing.py)."""

    class Kind(models.TextChoices):
        POLICY = "policy"  # an approval policy matched (or the plan step requires approval): act only once approved
        UNKNOWN_OUTCOME = "unknown_outcome"  # an irreversible call began and was never recorded
        QUESTION = "question"  # the agent asked a person (ask_person); the answer is the step's result

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXPIRED = "expired"  # nobody decided within AGENT_APPROVAL_TTL_S: the task was cancelled

    class Scope(models.TextChoices):
        STEP = "step"  # this one call
        RUN = "run"  # every call of the run to the listed recipients (a campaign of one-recipient sends)

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="approvals")
    run = models.IntegerField()
    step = models.IntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.STEP)
    policy = models.CharField(max_length=200, blank=True, default="")  # the matching policies' names, comma-separated
    why = models.TextField(blank=True, default="")  # why they matched, in facts about the input
    action = models.CharField(max_length=100, blank=True, default="")
    input = models.JSONField(null=True, blank=True)  # the call's input as shown (redacted)
    input_hash = models.CharField(max_length=64, blank=True, default="")  # sha256 of the full input's canonical JSON
    decision = models.JSONField(null=True, blank=True)  # a model-driven step: the model's action, params, reasoning
    sealed = models.TextField(blank=True, default="")  # what runs once approved (full input, decision), sealed
    edited_input = models.JSONField(null=True, blank=True)  # approved with an edit: the edit as shown (redacted)
    edited_hash = models.CharField(max_length=64, blank=True, default="")
    edited_policies = models.JSONField(default=list, blank=True)  # the policies the edit matched when re-checked
    recipients = models.JSONField(default=list, blank=True)  # every address the call (or the run) writes to
    covers = models.JSONField(default=list, blank=True)  # run scope: the step numbers it approves
    irreversible = models.BooleanField(default=False)  # the action cannot be undone
    question = models.TextField()
    choices = models.JSONField(default=list, blank=True)  # a question's choices (empty: free text)
    answer = models.TextField(blank=True, default="")  # a question's answer
    reason = models.TextField(blank=True, default="")  # a rejection's reason, given to the model or the trace
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    done = models.BooleanField(null=True, blank=True)  # unknown outcome: the person's answer
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="approval_decisions")
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # one open question per step; decided ones stay as the record of what was approved
        constraints = [models.UniqueConstraint(fields=["task", "run", "step", "kind"], condition=models.Q(
            status="pending"), name="one_pending_approval_per_step")]
        indexes = [models.Index(fields=["status", "created_at"]), models.Index(fields=["status", "expires_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} approval of task {self.task_id} step {self.step} ({self.status})"


class ApprovalPolicy(models.Model):
    """A user's (or one of their projects') override of an approval policy, by name: a rule replaces
    the default of that name (settings.AGENT_APPROVAL_POLICIES) or adds one; disabled drops it."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="approval_policies")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="approval_policies")
    name = models.CharField(max_length=50)
    enabled = models.BooleanField(default=True)
    rule = models.JSONField(default=dict, blank=True)  # agents/policies.py: actions, sideEffects, outside, ...
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], condition=models.Q(project__isnull=True),
                                    name="one_user_policy_per_name"),
            models.UniqueConstraint(fields=["user", "project", "name"], name="one_project_policy_per_name"),
        ]
        ordering = ["name"]
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"{self.name} ({'project ' + self.project_id if self.project_id else 'user'} {self.user_id})"


class DeadLetter(models.Model):
    """A run that failed for good (retries exhausted, fatal error): inspect it, then requeue it."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="dead_letters")
    run = models.IntegerField()
    step = models.IntegerField()
    action = models.CharField(max_length=100, blank=True, default="")
    error = models.TextField()
    trace = models.JSONField(null=True, blank=True)  # the execution trace when it failed
    created_at = models.DateTimeField(auto_now_add=True)
    requeued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["requeued_at", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"task {self.task_id} run {self.run} step {self.step}: {self.error[:60]}"


class ToolCircuit(models.Model):
    """The circuit breaker of what a tool calls (a host, a connection, an owner's account):
    open after consecutive transient failures, half-open to probe."""

    class State(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open"

    key = models.CharField(primary_key=True, max_length=300)  # "http:api.example.com" (tools.circuit_keys)
    tool = models.CharField(max_length=50, db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    failures = models.IntegerField(default=0)  # consecutive
    opened_at = models.DateTimeField(null=True, blank=True)  # first opened in this streak of failures
    opened_until = models.DateTimeField(null=True, blank=True)  # end of the cool-down (or of a probe)
    last_error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.state}"


from .agent_data import Contact, Delivery, EnrichmentLookup, Lead, PriceObservation, Upload  # noqa: E402,F401
from .control_data import AuditEntry, NotificationPreference, WebhookAttempt, WebhookDelivery, WebhookEndpoint  # noqa: E402,F401
from .credit_ledger import CreditBalance, CreditEntry  # noqa: E402,F401
from .ops_data import RunRecord, WorkerHeartbeat  # noqa: E402,F401
from .plan_versions import PlanVersion  # noqa: E402,F401
