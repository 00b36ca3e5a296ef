from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='SourcePost',
            name='title',
            field=fields.TextField(default='', description="the source's own title (YouTube), if any", unique=False),
        ),
    ]
