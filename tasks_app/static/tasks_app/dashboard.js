// Dashboard and task list: the status and progress of the listed tasks follow the all-tasks feed.
import { feedUrl, liveSocket, showProgress, showStatus } from "./api.js";

liveSocket({
  urlFor: () => feedUrl("/ws/tasks/"),
  onState: () => {},
  onMessage: (event) => {
    const row = event.taskId && document.querySelector(`tr[data-task-id="${CSS.escape(event.taskId)}"]`);
    if (!row) return;
    if (event.type === "status") showStatus(row, event.status);
    if (event.type === "step") showProgress(row, event.progress);
    if (event.type === "status" && event.status === "completed") showProgress(row, 100);
  },
});
