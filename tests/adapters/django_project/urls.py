from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.login_view),
    path("alogin/", views.alogin_view),
    path("logout/", views.logout_view),
    path("alogout/", views.alogout_view),
    path("set/<str:key>/<str:value>/", views.set_view),
    path("aset/<str:key>/<str:value>/", views.aset_view),
    path("del/<str:key>/", views.del_view),
    path("get/", views.get_view),
    path("nothing/", views.nothing_view),
    path("cycle/", views.cycle_view),
    path("flush/", views.flush_view),
    path("bad/", views.bad_value_view),
    path("sessions/", views.sessions_view),
    path("signout-others/", views.signout_others_view),
    path("end-reason/", views.end_reason_view),
    path("aend-reason/", views.aend_reason_view),
    path("together/<str:key>/<str:value>/", views.together_view),
    path("deleted-then-saved/<str:change>/", views.deleted_then_saved_view),
]
