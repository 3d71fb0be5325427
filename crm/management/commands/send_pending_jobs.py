from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm.background import pending_jobs_send
from crm.models import PendingJob


class Command(BaseCommand):
    help = (
        "Send to the broker the background jobs kept in the database while it was unreachable "
        "(the Celery beat does it every minute)."
    )

    def handle(self, *args, **options):
        if settings.BACKGROUND_INLINE:
            raise CommandError("BACKGROUND_INLINE=1: jobs run in process, there is no broker")
        sent = pending_jobs_send()
        self.stdout.write(f"Sent {sent} jobs; {PendingJob.objects.count()} still pending.")
