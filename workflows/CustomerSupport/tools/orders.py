"""Order lookups for the CustomerSupport example. A real deployment would call its order service here."""

from autogen.agentchat.group import ContextVariables, ReplyResult

_ORDERS = {
    "A100": "shipped, arriving Thursday",
    "A200": "processing in the warehouse",
    "A300": "delivered on Monday",
}


def check_status(order_id: str, context_variables: ContextVariables) -> ReplyResult:
    """Look up the status of an order by its id."""
    checked = int(context_variables.get("orders_checked", 0)) + 1
    context_variables["orders_checked"] = checked
    status = _ORDERS.get(order_id.strip().upper(), "not found")
    return ReplyResult(message=f"Order {order_id}: {status}", context_variables=context_variables)
