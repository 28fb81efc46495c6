"""Tools of the TripPlanner example. A real deployment would call a booking service in book_trip."""

from autogen.agentchat.group import ContextVariables, ReplyResult


def choose_dates(destination: str, context_variables: ContextVariables) -> dict:
    """Ask the user to pick travel dates. Returns what the client renders (a date picker)."""
    return {
        "component": "date_range_picker",
        "title": f"When do you want to travel to {destination}?",
        "min_nights": 1,
    }


def choose_dates_result(answer: dict, context_variables: ContextVariables) -> ReplyResult:
    """Turn the client's answer into the tool's result and remember the dates."""
    context_variables["start_date"] = str(answer.get("start", ""))
    context_variables["end_date"] = str(answer.get("end", ""))
    context_variables["dates_chosen"] = True
    return ReplyResult(
        message=f"The user chose {answer.get('start')} to {answer.get('end')}.",
        context_variables=context_variables,
    )


def book_trip(destination: str, context_variables: ContextVariables) -> ReplyResult:
    """Book the trip for the dates in the context."""
    start, end = context_variables.get("start_date", ""), context_variables.get("end_date", "")
    reference = f"TRIP-{destination[:3].upper()}-{start.replace('-', '')}"
    context_variables["booking_reference"] = reference
    return ReplyResult(
        message=f"Booked {destination} from {start} to {end}: reference {reference}.",
        context_variables=context_variables,
    )
